use session::SessionSchema;

#[derive(SessionSchema)]
#[session(rename_al = "camelCase")]
struct Account {
    user_id: Option<u64>,
}

fn main() {}
