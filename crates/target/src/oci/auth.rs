//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1) and the registry token flow: a registry
//! answers an anonymous request with `401` and `Bearer realm="…",service="…",scope="…"`; a
//! token is then fetched from the realm (`GET realm?service=…&scope=…` → JSON `token` or
//! `access_token`) and sent as `Authorization: Bearer …`.

/// One challenge: the scheme (lower-cased) and its parameters (names lower-cased).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// A parameter by (case-insensitive) name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.pos..].chars().next()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> &str {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    /// A token68 (base64-like credentials blob), after the scheme.
    fn token68(&mut self) -> &str {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(c))
        {
            self.pos += 1;
        }
        while self.peek() == Some('=') {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    fn quoted(&mut self) -> Result<String, String> {
        // At the opening quote.
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err("unterminated quoted string".into()),
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.pos += 1;
                    let c = self.peek().ok_or("unterminated quoted string")?;
                    out.push(c);
                    self.pos += c.len_utf8();
                }
                Some(c) => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }
}

/// Parse a `WWW-Authenticate` value into its challenges (several may share one header).
pub fn parse_challenges(header: &str) -> Result<Vec<Challenge>, String> {
    let mut lx = Lexer { s: header, pos: 0 };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        lx.skip_ws();
        while lx.peek() == Some(',') {
            lx.pos += 1;
            lx.skip_ws();
        }
        if lx.peek().is_none() {
            break;
        }
        let scheme = lx.token().to_ascii_lowercase();
        if scheme.is_empty() {
            return Err(format!(
                "bad WWW-Authenticate header at byte {}: {header}",
                lx.pos
            ));
        }
        let mut challenge = Challenge {
            scheme,
            params: Vec::new(),
        };
        lx.skip_ws();
        // Parameters until the next challenge: `name = value` separated by commas.
        loop {
            lx.skip_ws();
            let save = lx.pos;
            let name = lx.token().to_string();
            lx.skip_ws();
            if name.is_empty() || lx.peek() != Some('=') {
                lx.pos = save;
                if challenge.params.is_empty() && lx.peek().is_some_and(|c| c != ',') {
                    // `Scheme token68`
                    let t = lx.token68().to_string();
                    if !t.is_empty() {
                        challenge.params.push((String::new(), t));
                    }
                }
                break;
            }
            lx.pos += 1; // '='
            lx.skip_ws();
            let value = if lx.peek() == Some('"') {
                lx.quoted()?
            } else {
                lx.token().to_string()
            };
            challenge.params.push((name.to_ascii_lowercase(), value));
            lx.skip_ws();
            match lx.peek() {
                Some(',') => {
                    lx.pos += 1;
                    // A new challenge starts when a token is not followed by '='.
                    lx.skip_ws();
                    let save = lx.pos;
                    let t = lx.token().to_string();
                    lx.skip_ws();
                    let next_is_param = !t.is_empty() && lx.peek() == Some('=');
                    lx.pos = save;
                    if !next_is_param {
                        break;
                    }
                }
                None => break,
                Some(c) => {
                    return Err(format!(
                        "bad WWW-Authenticate header: unexpected '{c}' at byte {}: {header}",
                        lx.pos
                    ))
                }
            }
        }
        out.push(challenge);
    }
    Ok(out)
}

/// The Bearer challenge's realm, service and scope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bearer {
    pub realm: String,
    pub service: Option<String>,
    pub scope: Option<String>,
}

/// Find the Bearer challenge among `challenges`.
pub fn bearer(challenges: &[Challenge]) -> Option<Bearer> {
    let c = challenges.iter().find(|c| c.scheme == "bearer")?;
    Some(Bearer {
        realm: c.param("realm")?.to_string(),
        service: c.param("service").map(str::to_string),
        scope: c.param("scope").map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_registry_headers() {
        // Docker Hub, byte for byte as it answers GET /v2/library/debian/manifests/bookworm.
        let hub = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull""#;
        let c = parse_challenges(hub).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            bearer(&c).unwrap(),
            Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/debian:pull".into()),
            }
        );
        // quay.io
        let quay = r#"Bearer realm="https://quay.io/v2/auth",service="quay.io",scope="repository:pypa/manylinux2014_aarch64:pull""#;
        let b = bearer(&parse_challenges(quay).unwrap()).unwrap();
        assert_eq!(b.realm, "https://quay.io/v2/auth");
        assert_eq!(
            b.scope.as_deref(),
            Some("repository:pypa/manylinux2014_aarch64:pull")
        );
        // The distribution registry on GET /v2/ (no scope), and with an error parameter.
        let v2 = r#"Bearer realm="https://auth.example.com/token",service="Docker registry""#;
        let b = bearer(&parse_challenges(v2).unwrap()).unwrap();
        assert_eq!(
            (b.service.as_deref(), b.scope),
            (Some("Docker registry"), None)
        );
        let err = r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull",error="insufficient_scope""#;
        let c = parse_challenges(err).unwrap();
        assert_eq!(c[0].param("error"), Some("insufficient_scope"));
        assert_eq!(c[0].params.len(), 4);
    }

    #[test]
    fn several_challenges_tokens_and_escapes() {
        let h = r#"Basic realm="Registry Realm", bearer Realm="http://127.0.0.1:1/t?x=1,2", Scope="repository:a/b:pull,push" ,service=svc"#;
        let c = parse_challenges(h).unwrap();
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some("Registry Realm"));
        let b = bearer(&c).unwrap();
        assert_eq!(b.realm, "http://127.0.0.1:1/t?x=1,2");
        assert_eq!(b.scope.as_deref(), Some("repository:a/b:pull,push"));
        assert_eq!(b.service.as_deref(), Some("svc"));
        let c = parse_challenges(r#"Bearer realm="a\"b\\c""#).unwrap();
        assert_eq!(c[0].param("realm"), Some(r#"a"b\c"#));
        let c = parse_challenges("Negotiate abc+/de==, Bearer realm=x").unwrap();
        assert_eq!(c[0].params, vec![(String::new(), "abc+/de==".to_string())]);
        assert_eq!(bearer(&c).unwrap().realm, "x");
        // A scheme alone, and nothing at all.
        assert_eq!(parse_challenges("Basic").unwrap()[0].params, vec![]);
        assert!(parse_challenges("").unwrap().is_empty());
        assert!(bearer(&parse_challenges("Basic realm=x").unwrap()).is_none());
        // A Bearer challenge without realm is unusable.
        assert!(bearer(&parse_challenges("Bearer service=x").unwrap()).is_none());
    }

    #[test]
    fn malformed_headers() {
        assert!(parse_challenges(r#"Bearer realm="unterminated"#).is_err());
        assert!(parse_challenges(r#"Bearer realm="x" junk"#).is_err());
        assert!(parse_challenges("=x").is_err());
    }
}
