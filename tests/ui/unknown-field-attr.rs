use session::SessionSchema;

#[derive(SessionSchema)]
struct Account {
    #[session(flsh)]
    notice: Option<String>,
}

fn main() {}
