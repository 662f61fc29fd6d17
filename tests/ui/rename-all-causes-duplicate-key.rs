use session::SessionSchema;

#[derive(SessionSchema)]
#[session(rename_all = "camelCase", prefix = "app.")]
struct Account {
    user_id: Option<u64>,
    #[session(rename = "userId")]
    legacy_id: Option<u64>,
}

fn main() {}
