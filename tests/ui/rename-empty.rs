use session::SessionSchema;

#[derive(SessionSchema)]
struct Account {
    #[session(rename = "")]
    user_id: Option<u64>,
}

fn main() {}
