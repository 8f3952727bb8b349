//! Routing: sends Lambda functions, by name or ARN pattern, to OpenFaaS functions or HTTP URLs, so an
//! unmodified AWS definition runs against local functions.

use crate::config::{HttpRoute, OpenFaasRoute, RouteConfig};

/// Where a routed call goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteTarget {
    /// An OpenFaaS function.
    OpenFaas {
        /// The function.
        function: String,
        /// The gateway's name.
        gateway: String,
        /// Through the queue, completed by the callback.
        asynchronous: bool,
    },
    /// An HTTP URL.
    Http {
        /// The URL.
        url: String,
    },
}

/// The routes, in order.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    routes: Vec<RouteConfig>,
}

impl Routes {
    /// Routes from configuration.
    pub fn new(routes: Vec<RouteConfig>) -> Routes {
        Routes { routes }
    }

    /// True when no route is configured.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// True when some route sends calls through an OpenFaaS queue.
    pub fn any_asynchronous(&self) -> bool {
        self.routes.iter().any(|r| r.openfaas.as_ref().is_some_and(|o| o.asynchronous))
    }

    /// The target for a Lambda `FunctionName` (a name, a partial or a full ARN, with or without a
    /// qualifier), if a route matches.
    pub fn route(&self, function_name: &str) -> Option<RouteTarget> {
        let name = function_short_name(function_name);
        let route = self.routes.iter().find(|r| {
            if r.pattern.contains(':') {
                glob_match(&r.pattern, function_name)
            } else {
                glob_match(&r.pattern, name)
            }
        })?;
        match (&route.openfaas, &route.http) {
            (Some(OpenFaasRoute { function, gateway, asynchronous }), _) => Some(RouteTarget::OpenFaas {
                function: function.clone().unwrap_or_else(|| name.to_owned()),
                gateway: gateway.clone().unwrap_or_else(|| "default".to_owned()),
                asynchronous: *asynchronous,
            }),
            (None, Some(HttpRoute { url })) => Some(RouteTarget::Http { url: url.clone() }),
            (None, None) => None,
        }
    }
}

/// The function's own name out of any `FunctionName` form.
pub fn function_short_name(function_name: &str) -> &str {
    let parts: Vec<&str> = function_name.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", name, ..] => name,
        [_, "function", name, ..] => name,
        [name, _] => name,
        _ => function_name,
    }
}

/// Matches `text` against `pattern`, where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(json: &str) -> Routes {
        Routes::new(serde_json::from_str(json).unwrap())
    }

    #[test]
    fn globs() {
        assert!(glob_match("orders-*", "orders-eu"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXcYYb"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(glob_match("exact", "exact"));
    }

    #[test]
    fn names_and_arns_route() {
        let r = routes(
            r#"[{"match": "arn:aws:lambda:*:*:function:pay", "http": {"url": "http://h/pay"}},
                {"match": "orders-*", "openfaas": {"function": "orders", "async": true}},
                {"match": "*", "openfaas": {}}]"#,
        );
        assert_eq!(
            r.route("arn:aws:lambda:us-east-1:1:function:pay"),
            Some(RouteTarget::Http { url: "http://h/pay".into() })
        );
        assert_eq!(
            r.route("arn:aws:lambda:us-east-1:1:function:orders-eu:$LATEST"),
            Some(RouteTarget::OpenFaas { function: "orders".into(), gateway: "default".into(), asynchronous: true })
        );
        assert_eq!(
            r.route("pay"),
            Some(RouteTarget::OpenFaas { function: "pay".into(), gateway: "default".into(), asynchronous: false })
        );
        assert!(r.any_asynchronous());
    }
}
