use session::SessionSchema;

#[derive(SessionSchema)]
#[session(prefx = "app.")]
struct Account {
    #[session(renam = "id")]
    user_id: Option<u64>,
    #[session(skip, flash)]
    notice: Option<String>,
    #[session(rename = "theme")]
    color: Option<String>,
    theme: Option<String>,
}

fn main() {}
