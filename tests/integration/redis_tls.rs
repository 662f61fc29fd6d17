//! Redis storage over TLS: a `redis-server` with TLS on, a certificate authority and server
//! certificate that the test makes with `openssl`, and `rediss://` URLs.

use std::path::{Path, PathBuf};

use session::{Error, RedisStorage, SessionId};

use crate::common::{RedisServer, cookie_pair, free_port, scratch_dir};

/// A TLS-only Redis server and the authority that signed its certificate.
#[derive(Debug)]
pub(crate) struct TlsRedis {
    server: RedisServer,
    dir: PathBuf,
}

impl TlsRedis {
    /// Makes a certificate authority and a certificate for `localhost` and 127.0.0.1, and
    /// starts `redis-server --port 0 --tls-port <port>` with them.
    pub(crate) fn start() -> Self {
        install_crypto_provider();
        let dir = scratch_dir("session-tls");
        let script = r"set -e
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -keyout ca.key -out ca.pem -days 2 -subj /CN=session-test-ca 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                -out server.pem -days 2 -extfile san.ext 2>/dev/null";
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&dir)
            .status()
            .expect("sh runs");
        assert!(status.success(), "openssl made the test certificates");
        let port = free_port();
        let server = RedisServer::start_with(
            port,
            &format!(
                "--port 0 --tls-port {port} --tls-cert-file {dir}/server.pem \
                 --tls-key-file {dir}/server.key --tls-ca-cert-file {dir}/ca.pem \
                 --tls-auth-clients no",
                dir = dir.display()
            ),
        );
        Self { server, dir }
    }

    pub(crate) fn url(&self) -> String {
        format!("rediss://localhost:{}/", self.server.port)
    }

    pub(crate) fn ca(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("ca.pem")).unwrap()
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        self.server.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// rustls's ring provider as the test process's default: the app's choice, which the
/// `redis-tls` feature leaves to it.
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The TLS server the conformance tests share, started once per test process.
pub(crate) fn shared() -> &'static TlsRedis {
    static SHARED: std::sync::OnceLock<TlsRedis> = std::sync::OnceLock::new();
    SHARED.get_or_init(TlsRedis::start)
}

/// A storage on the shared TLS server, from a `rediss://` URL, under a prefix of its own.
pub(crate) fn tls_storage() -> RedisStorage {
    let server = shared();
    RedisStorage::builder(server.url())
        .tls_root_certificate(server.ca())
        .prefix(format!("test:{}:", SessionId::generate().as_str()))
        .build()
        .unwrap()
}

use crate::common::redis_manager as manager;

async fn round_trip(storage: RedisStorage) -> Result<Option<u32>, Error> {
    let sessions = manager(storage);
    let mut session = sessions.load(None).await?;
    session.set("n", 5)?;
    let commit = sessions.commit(&session).await?;
    let pair = cookie_pair(&commit);
    sessions.load(Some(&pair)).await?.get::<u32>("n")
}

#[tokio::test]
async fn a_rediss_url_with_the_server_s_authority_saves_and_loads() {
    assert_eq!(round_trip(tls_storage()).await.unwrap(), Some(5));
}

#[tokio::test]
async fn a_certificate_from_an_unknown_authority_is_refused_with_a_storage_error() {
    // The system's roots do not know the test's authority.
    let server = shared();
    let storage = RedisStorage::builder(server.url()).build().unwrap();
    let err = round_trip(storage).await.unwrap_err();
    assert!(matches!(err, Error::Storage(_)), "{err:?}");
    let _ = server.dir();
}

#[tokio::test]
async fn the_app_s_own_tls_client_works() {
    let server = shared();
    let certificates = redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(server.ca()),
    };
    let client = redis::Client::build_with_tls(server.url(), certificates).unwrap();
    let storage = RedisStorage::builder_for(client)
        .prefix(format!("test:{}:", SessionId::generate().as_str()))
        .build()
        .unwrap();
    assert_eq!(round_trip(storage).await.unwrap(), Some(5));
}
