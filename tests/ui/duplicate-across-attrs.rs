use session::SessionSchema;

#[derive(SessionSchema)]
struct Account {
    #[session(flash)]
    #[session(flash)]
    notice: Option<String>,
}

fn main() {}
