use session::SessionSchema;

#[derive(SessionSchema)]
struct Account {
    user_id: Option<u64>,
    #[session(rename = "user_id")]
    legacy_id: Option<u64>,
}

fn main() {}
