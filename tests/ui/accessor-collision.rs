use session::SessionSchema;

#[derive(SessionSchema)]
struct Account {
    name: Option<String>,
    set_name: Option<bool>,
}

fn main() {}
