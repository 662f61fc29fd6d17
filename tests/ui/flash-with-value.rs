use session::SessionSchema;

#[derive(SessionSchema)]
struct Account {
    #[session(flash = true)]
    notice: Option<String>,
}

fn main() {}
