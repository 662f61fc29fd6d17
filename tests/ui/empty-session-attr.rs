use session::SessionSchema;

#[derive(SessionSchema)]
struct Account {
    #[session()]
    user_id: Option<u64>,
}

fn main() {}
