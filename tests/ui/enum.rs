use session::SessionSchema;

#[derive(SessionSchema)]
enum Account {
    Guest,
    User { id: u64 },
}

fn main() {}
