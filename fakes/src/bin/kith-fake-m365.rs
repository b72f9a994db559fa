//! Runs the fake Microsoft 365 (Graph contacts and the identity platform) for a local demo:
//! `kith-fake-m365 [ADDR]` (default 127.0.0.1:5298).

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5298".into());
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kith-fake-m365: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let url = format!(
        "http://{}",
        listener.local_addr().map(|a| a.to_string()).unwrap_or(addr)
    );
    println!(
        "kith-fake-m365: listening on {url}/ (Graph at {url}/v1.0, identity platform at {url}/TENANT/oauth2/v2.0/…)"
    );
    kith_fakes::m365::serve(listener, kith_fakes::m365::Fake::new()).await;
}
