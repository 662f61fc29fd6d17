use session::SessionSchema;

#[derive(SessionSchema)]
#[session(rename_all = "camelcase")]
struct Account {
    user_id: Option<u64>,
}

fn main() {}
