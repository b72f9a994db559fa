//! Runs the fake Google (People API and OAuth) for a local demo:
//! `kith-fake-google [ADDR]` (default 127.0.0.1:5299).

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5299".into());
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kith-fake-google: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let url = format!(
        "http://{}",
        listener.local_addr().map(|a| a.to_string()).unwrap_or(addr)
    );
    println!(
        "kith-fake-google: listening on {url}/ (People API at {url}, OAuth at {url}/o/oauth2/v2/auth and {url}/token)"
    );
    kith_fakes::google::serve(listener, kith_fakes::google::Fake::new()).await;
}
