use session::SessionSchema;

struct NotSerde;

#[derive(SessionSchema)]
struct Account {
    user_id: Option<u64>,
    handle: Option<NotSerde>,
}

fn main() {}
