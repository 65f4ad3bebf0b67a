//! TLS material: a test CA issuing server and client certificates, and
//! the per-process certificate files of the TLS targets.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A PEM certificate with its key (PKCS#8), plus the certificate's DER.
#[derive(Clone)]
pub struct Pem {
    pub cert: String,
    pub key: String,
    pub cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Pem {
    pub(crate) fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// Writes `<prefix>cert.pem` and `<prefix>key.pem` into `dir`.
    pub fn write(&self, dir: &Path, prefix: &str) -> (PathBuf, PathBuf) {
        let c = dir.join(format!("{prefix}cert.pem"));
        let k = dir.join(format!("{prefix}key.pem"));
        fs::write(&c, &self.cert).expect("write cert");
        fs::write(&k, &self.key).expect("write key");
        (c, k)
    }
}

/// A test CA (rcgen) that issues server and client certificates.
pub struct Pki {
    pub ca_pem: String,
    pub ca_der: CertificateDer<'static>,
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, name);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = rcgen::CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
        Pki {
            ca_pem: issuer.pem(),
            ca_der: issuer.der().clone(),
            issuer,
        }
    }

    /// A server certificate for "localhost" and 127.0.0.1, CN = `cn`.
    pub fn server(&self, cn: &str) -> Pem {
        self.issue(cn, true)
    }

    /// A client certificate, CN = `cn`.
    pub fn client(&self, cn: &str) -> Pem {
        self.issue(cn, false)
    }

    fn issue(&self, cn: &str, server: bool) -> Pem {
        use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType};
        let mut p = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        if server {
            p.subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
        }
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }
}

/// The per-process certificates of the TLS targets.
pub struct TlsFiles {
    pub dir: PathBuf,
    pub pki: Pki,
    pub ca_der: CertificateDer<'static>,
    pub ca_file: PathBuf,
    pub server: Pem,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

/// Generated on first use into $TMPDIR/molt-test-tls-<pid>/. A static has
/// no destructor, so the directory outlives the process; the next test
/// process removes those whose process is gone.
pub fn tls_files() -> &'static TlsFiles {
    static F: OnceLock<TlsFiles> = OnceLock::new();
    F.get_or_init(|| {
        remove_stale_tls_dirs();
        let dir = std::env::temp_dir().join(format!("molt-test-tls-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("create TLS temp dir");
        let pki = Pki::new("molt test CA");
        let server = pki.server("molt test server");
        let (server_cert, server_key) = server.write(&dir, "server-");
        let ca_file = dir.join("ca.pem");
        fs::write(&ca_file, &pki.ca_pem).expect("write CA");
        TlsFiles {
            dir,
            ca_der: pki.ca_der.clone(),
            pki,
            ca_file,
            server,
            server_cert,
            server_key,
        }
    })
}

fn remove_stale_tls_dirs() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("molt-test-tls-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}
