//! A minimal HTTP/1.1 client for the examples' `--check` runs: one request per connection,
//! carrying one browser's session cookie by hand, so the examples need no HTTP client crate.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// What the server answered.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The status code.
    pub(crate) status: u16,
    /// The body, as text.
    pub(crate) body: String,
    /// The `name=value` of the first `Set-Cookie`, if the response set one.
    pub(crate) set_cookie: Option<String>,
}

/// Sends `method path` to `address` with `cookie` (a `name=value` pair) and, for a POST, the
/// URL-encoded `form`.
///
/// # Errors
///
/// When the server cannot be reached or closes the connection early.
pub(crate) async fn send(
    address: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(address).await?;
    let cookie = cookie.map_or_else(String::new, |pair| format!("cookie: {pair}\r\n"));
    let form = form.unwrap_or_default();
    let content = if method == "POST" {
        format!(
            "content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n",
            form.len()
        )
    } else {
        String::new()
    };
    stream
        .write_all(
            format!(
                "{method} {path} HTTP/1.1\r\nhost: localhost\r\n{cookie}{content}connection: close\r\n\r\n{form}"
            )
            .as_bytes(),
        )
        .await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let set_cookie = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("set-cookie")
                .then(|| value.trim())
        })
        .and_then(|value| value.split(';').next())
        .map(str::to_owned);
    Ok(Reply {
        status,
        body: body.to_owned(),
        set_cookie,
    })
}
