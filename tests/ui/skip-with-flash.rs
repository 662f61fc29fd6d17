use session::SessionSchema;

#[derive(SessionSchema)]
struct Account {
    #[session(skip, flash)]
    notice: Option<String>,
}

fn main() {}
