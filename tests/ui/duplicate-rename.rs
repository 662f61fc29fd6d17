use session::SessionSchema;

#[derive(SessionSchema)]
struct Account {
    #[session(rename = "a", rename = "b")]
    user_id: Option<u64>,
}

fn main() {}
