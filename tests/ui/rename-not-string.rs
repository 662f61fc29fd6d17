use session::SessionSchema;

#[derive(SessionSchema)]
struct Account {
    #[session(rename = 5)]
    user_id: Option<u64>,
}

fn main() {}
