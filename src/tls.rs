//! rustls configs, built off the request path and shared read-only by every
//! core: the upstream client's (public roots, system roots, optional private
//! CA per provider) and the server side's (certificate and key from PEM files).

use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn client_with_roots(roots: RootCertStore) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn public_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // System roots too, so CAs installed on the host are honoured.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    roots
}

/// The default upstream client config (public and system roots).
pub fn client_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| client_with_roots(public_roots()))
        .clone()
}

/// A client config that also trusts the CA certificates in `ca_file` (PEM).
pub fn client_config_with_ca(ca_file: &str) -> Result<Arc<ClientConfig>, String> {
    let mut roots = public_roots();
    let mut added = 0;
    for cert in CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| format!("cannot read `{ca_file}`: {e}"))?
    {
        let cert = cert.map_err(|e| format!("bad certificate in `{ca_file}`: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("bad certificate in `{ca_file}`: {e}"))?;
        added += 1;
    }
    if added == 0 {
        return Err(format!("no certificate in `{ca_file}`"));
    }
    Ok(client_with_roots(roots))
}

/// A server config from a PEM certificate chain and a PEM private key.
pub fn server_config(cert_file: &str, key_file: &str) -> Result<Arc<ServerConfig>, String> {
    let certs = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("cannot read `{cert_file}`: {e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad certificate in `{cert_file}`: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("cannot read key `{key_file}`: {e}"))?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key do not fit: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
