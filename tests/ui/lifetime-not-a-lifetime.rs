use session::SessionSchema;

#[derive(SessionSchema)]
struct Login {
    #[session(lifetime)]
    remember: bool,
}

fn main() {}
