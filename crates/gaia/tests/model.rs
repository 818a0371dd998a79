//! The gaia model: encodings, validations (generated and hand-written), read-only and
//! creation-only rules, look-ups, relationships and declared parameters.

use elemental::{
    EncodingType, Identifiable, Identity, Model, ModelIdentity, ModelManager, Operation,
    validate_advanced_specification,
};
use gaia::model::{ExternalNetwork, HostService, Namespace, NetworkAccessPolicy, Service, manager};

/// Reads a GET request through the gaia model manager.
fn request(uri: &str) -> Result<elemental::Request, elemental::Errors> {
    let (parts, _) = http::Request::get(uri).body(()).unwrap().into_parts();
    elemental::Request::from_http(
        &parts,
        bytes::Bytes::new(),
        manager(),
        &elemental::RequestContext::default(),
    )
}

fn descriptions(errors: elemental::Errors) -> Vec<String> {
    errors.iter().map(|e| e.description.clone()).collect()
}

fn network() -> ExternalNetwork {
    ExternalNetwork {
        name: "anywhere".into(),
        entries: vec!["0.0.0.0/0".into(), "*.example.com".into(), "::1".into()],
        service_ports: vec!["tcp/1:65000".into(), "udp/53".into(), "icmp/8/0".into()],
        associated_tags: vec!["env=prod".into()],
        ..ExternalNetwork::default()
    }
}

#[test]
fn defaults_and_json_round_trip() {
    let n = network();
    assert_eq!(n.r#type, "Subnet");
    let json = serde_json::to_value(&n).unwrap();
    assert_eq!(json["type"], "Subnet");
    assert_eq!(json["annotations"], serde_json::json!({}));
    assert_eq!(json["createTime"], serde_json::Value::Null);
    assert!(
        json.get("archived").is_none(),
        "stored-only attributes are not exposed"
    );
    assert!(json.get("createIdempotencyKey").is_none());
    let back: ExternalNetwork = serde_json::from_value(json).unwrap();
    assert_eq!(back, n);
    let mp = n.encode(EncodingType::Msgpack).unwrap();
    assert_eq!(
        elemental::decode::<ExternalNetwork>(EncodingType::Msgpack, &mp).unwrap(),
        n
    );

    let policy = NetworkAccessPolicy::default();
    assert_eq!(
        (policy.action.as_str(), policy.apply_policy_mode.as_str()),
        ("Allow", "Bidirectional")
    );
    let ns = Namespace::default();
    assert_eq!(
        (
            ns.r#type.as_str(),
            ns.default_pu_incoming_traffic_action.as_str()
        ),
        ("Default", "Inherit")
    );
    assert_eq!(Service::default().tls_type, "Aporeto");
}

#[test]
fn valid_objects_pass() {
    assert!(network().validate().is_ok());
    let ns = Namespace {
        name: "prod".into(),
        ..Namespace::default()
    };
    assert!(ns.validate().is_ok());
    let hs = HostService {
        name: "ssh_web".into(),
        services: vec!["22".into(), "tcp/80:90".into(), "udp/80".into()],
        ..HostService::default()
    };
    assert!(hs.validate().is_ok(), "{:?}", hs.validate());
    let svc = Service {
        name: "web".into(),
        exposed_port: 443,
        port: 8443,
        hosts: vec!["web.example.com".into()],
        ..Service::default()
    };
    assert!(svc.validate().is_ok(), "{:?}", svc.validate());
    let policy = NetworkAccessPolicy {
        name: "allow-web".into(),
        subject: vec![vec!["app=web".into(), "env=prod".into()]],
        object: vec![vec!["app=db".into()]],
        ports: vec!["tcp/5432".into()],
        active_duration: "1h".into(),
        ..NetworkAccessPolicy::default()
    };
    assert!(policy.validate().is_ok(), "{:?}", policy.validate());
}

#[test]
fn generated_validation_messages() {
    let ns = Namespace {
        name: "a b".into(),
        r#type: "Nope".into(),
        ..Namespace::default()
    };
    assert_eq!(
        descriptions(ns.validate().unwrap_err()),
        vec![
            "Data 'a b' of attribute 'name' must only contain alpha numerical characters, '-' or '_'",
            "Data 'Nope' of attribute 'type' is not in list '[Default Tenant CloudAccount Group Kubernetes ECS]'",
        ]
    );
    let svc = Service {
        exposed_port: 70000,
        hosts: vec!["a.example.com".into()],
        port: 1,
        ..Service::default()
    };
    assert_eq!(
        descriptions(svc.validate().unwrap_err()),
        vec![
            "Data '70000' of attribute 'exposedPort' should be less or equal than 65535",
            "Attribute 'name' is required",
        ]
    );
    let policy = NetworkAccessPolicy {
        name: "p".into(),
        active_duration: "1 day".into(),
        ..NetworkAccessPolicy::default()
    };
    assert_eq!(
        descriptions(policy.validate().unwrap_err()),
        vec![
            "Data '1 day' of attribute 'activeDuration' must be a valid duration like <n>s or <n>m or <n>h"
        ]
    );
    let long = ExternalNetwork {
        description: "x".repeat(1025),
        ..network()
    };
    assert_eq!(
        long.validate()
            .unwrap_err()
            .iter()
            .next()
            .unwrap()
            .description,
        format!(
            "Data '{}' of attribute 'description' should be less than 1024 chars long",
            "x".repeat(1025)
        )
    );
}

#[test]
fn hand_written_attribute_validations() {
    let cases: Vec<(ExternalNetwork, &str)> = vec![
        (
            ExternalNetwork {
                entries: vec![],
                ..network()
            },
            "Attribute 'entries' must not be empty",
        ),
        (
            ExternalNetwork {
                entries: vec!["10.0.0.0/33".into()],
                ..network()
            },
            "Entry '10.0.0.0/33' of attribute 'entries' is neither an IP, a CIDR nor a domain name",
        ),
        (
            ExternalNetwork {
                service_ports: vec!["tcp".into()],
                ..network()
            },
            "Invalid service port 'tcp' of attribute 'servicePorts': tcp needs ports, for example tcp/80 or tcp/80:100",
        ),
        (
            ExternalNetwork {
                service_ports: vec!["tcp/90:80".into()],
                ..network()
            },
            "Invalid service port 'tcp/90:80' of attribute 'servicePorts': the range 90:80 is reversed",
        ),
        (
            ExternalNetwork {
                service_ports: vec!["tcp/0".into()],
                ..network()
            },
            "Invalid service port 'tcp/0' of attribute 'servicePorts': '0' is not a port between 1 and 65535",
        ),
        (
            ExternalNetwork {
                service_ports: vec!["foo/1".into()],
                ..network()
            },
            "Invalid service port 'foo/1' of attribute 'servicePorts': 'foo' is not a known layer 4 protocol",
        ),
        (
            ExternalNetwork {
                service_ports: vec!["any".into(), "tcp/80".into()],
                ..network()
            },
            "Service port 'any' of attribute 'servicePorts' must be the only entry",
        ),
        (
            ExternalNetwork {
                service_ports: vec!["tcp/80".into(), "TCP/80".into()],
                ..network()
            },
            "Service port 'TCP/80' of attribute 'servicePorts' is listed twice",
        ),
        (
            ExternalNetwork {
                service_ports: vec!["icmp/300".into()],
                ..network()
            },
            "Invalid service port 'icmp/300' of attribute 'servicePorts': '300' is not an ICMP type between 0 and 255",
        ),
        (
            ExternalNetwork {
                associated_tags: vec!["@sys=x".into()],
                ..network()
            },
            "Tag '@sys=x' of attribute 'associatedTags' must not start with a reserved prefix ('@', '$' or '+')",
        ),
        (
            ExternalNetwork {
                associated_tags: vec!["novalue".into()],
                ..network()
            },
            "Tag 'novalue' of attribute 'associatedTags' must be written key=value",
        ),
        (
            ExternalNetwork {
                metadata: vec!["x=y".into()],
                ..network()
            },
            "Metadata 'x=y' of attribute 'metadata' must start with '@'",
        ),
        (
            ExternalNetwork {
                metadata: vec!["@auth:x=y".into()],
                ..network()
            },
            "Metadata '@auth:x=y' of attribute 'metadata' must not start with the reserved prefix '@auth:'",
        ),
    ];
    for (object, expected) in cases {
        let errors = object.validate().unwrap_err();
        assert_eq!(descriptions(errors.clone()), vec![expected.to_string()]);
        let e = errors.iter().next().unwrap();
        assert_eq!(
            (e.code, e.title.as_str(), e.subject.as_str()),
            (422, "Validation Error", "gaia")
        );
    }
    let policy = NetworkAccessPolicy {
        name: "p".into(),
        subject: vec![vec![]],
        ..NetworkAccessPolicy::default()
    };
    assert_eq!(
        descriptions(policy.validate().unwrap_err()),
        vec!["Attribute 'subject' must not contain an empty list of tags"]
    );
}

#[test]
fn host_service_entity_rules() {
    let hs = HostService {
        name: "bad-name".into(),
        ..HostService::default()
    };
    assert_eq!(
        descriptions(hs.validate().unwrap_err()),
        vec![
            "Name 'bad-name' of a host service must only contain letters, digits and '_', and be at most 127 characters long",
            "A host service must either enable host mode or list services",
        ]
    );
    let hs = HostService {
        name: "ok".into(),
        services: vec!["tcp/80:90".into(), "85".into(), "icmp".into()],
        ..HostService::default()
    };
    assert_eq!(
        descriptions(hs.validate().unwrap_err()),
        vec![
            "Services 'tcp/80:90' and '85' overlap",
            "Service 'icmp' must use the tcp or udp protocol"
        ]
    );
    let hs = HostService {
        name: "ok".into(),
        host_mode_enabled: true,
        ..HostService::default()
    };
    assert!(hs.validate().is_ok());
}

#[test]
fn service_entity_rules() {
    let base = Service {
        name: "s".into(),
        exposed_port: 443,
        port: 80,
        hosts: vec!["a.example.com".into()],
        ..Service::default()
    };
    let cases: Vec<(Service, Vec<&str>)> = vec![
        (
            Service {
                hosts: vec![],
                ..base.clone()
            },
            vec!["A service must have at least one host or one IP"],
        ),
        (
            Service {
                authorization_type: "OIDC".into(),
                oidc_provider_url: "http://idp".into(),
                ..base.clone()
            },
            vec![
                "Attribute 'OIDCClientID' is required when authorizationType is OIDC",
                "Attribute 'OIDCClientSecret' is required when authorizationType is OIDC",
                "OIDCProviderURL 'http://idp' must be an https URL",
            ],
        ),
        (
            Service {
                authorization_type: "JWT".into(),
                ..base.clone()
            },
            vec!["Attribute 'JWTSigningCertificate' is required when authorizationType is JWT"],
        ),
        (
            Service {
                tls_type: "External".into(),
                ..base.clone()
            },
            vec!["Attribute 'TLSCertificate' is required when TLSType is External"],
        ),
        (
            Service {
                port: 0,
                ..base.clone()
            },
            vec!["Attribute 'port' is required when the service is not external"],
        ),
        (
            Service {
                external: true,
                ..base.clone()
            },
            vec!["An external service cannot have a port"],
        ),
        (
            Service {
                public_application_port: 443,
                ..base.clone()
            },
            vec!["publicApplicationPort must differ from exposedPort"],
        ),
        (
            Service {
                hosts: vec!["a.example.com".into(), "A.example.com".into()],
                ..base.clone()
            },
            vec!["Host 'A.example.com' of a service is listed twice"],
        ),
        (
            Service {
                hosts: vec!["not a host".into()],
                ..base.clone()
            },
            vec!["Host 'not a host' of a service must be a valid domain name"],
        ),
        (
            Service {
                ips: vec!["10.0.0.0/8".into(), "10.1.0.0/16".into()],
                ..base.clone()
            },
            vec!["IPs '10.0.0.0/8' and '10.1.0.0/16' of a service overlap"],
        ),
        (
            Service {
                proxy_protocol_enabled: true,
                ..base.clone()
            },
            vec!["Attribute 'proxyProtocolSubnets' is required when proxyProtocolEnabled is true"],
        ),
        (
            Service {
                proxy_protocol_enabled: true,
                proxy_protocol_subnets: vec!["10.0.0.1".into()],
                ..base.clone()
            },
            vec!["Entry '10.0.0.1' of attribute 'proxyProtocolSubnets' is not a CIDR"],
        ),
    ];
    for (service, expected) in cases {
        assert_eq!(descriptions(service.validate().unwrap_err()), expected);
    }
    assert!(
        Service {
            ips: vec![
                "10.0.0.0/16".into(),
                "10.1.0.0/16".into(),
                "fd00::/8".into()
            ],
            ..base
        }
        .validate()
        .is_ok()
    );
}

#[test]
fn secrets_are_blanked() {
    let mut svc = Service {
        oidc_client_secret: "s".into(),
        tls_certificate_key: "k".into(),
        ..Service::default()
    };
    svc.blank_secrets();
    assert_eq!(
        (
            svc.oidc_client_secret.as_str(),
            svc.tls_certificate_key.as_str()
        ),
        ("", "")
    );
}

#[test]
fn read_only_and_creation_only() {
    let stored = Namespace {
        id: "1".into(),
        name: "prod".into(),
        namespace: "/acme".into(),
        ..Namespace::default()
    };
    let renamed = Namespace {
        name: "dev".into(),
        r#type: "Tenant".into(),
        namespace: "/other".into(),
        ..stored.clone()
    };
    assert_eq!(
        descriptions(
            validate_advanced_specification(&renamed, Some(&stored), Operation::Update)
                .unwrap_err()
        ),
        vec![
            "Field name can only be set during creation. You cannot modify its value.",
            "Field namespace is read only. You cannot modify its value.",
            "Field type can only be set during creation. You cannot modify its value.",
        ]
    );
    assert_eq!(stored.namespace(), Some("/acme"));
}

#[test]
fn sparse_and_patch() {
    let mut n = network();
    let patch: <ExternalNetwork as Model>::Sparse =
        serde_json::from_str(r#"{"entries":["10.0.0.0/8"],"type":"ENI"}"#).unwrap();
    n.patch(&patch);
    assert_eq!(
        (n.entries.clone(), n.r#type.as_str(), n.name.as_str()),
        (vec!["10.0.0.0/8".to_string()], "ENI", "anywhere")
    );
    let sparse = serde_json::to_string(&n.to_sparse(&["name".into(), "type".into()])).unwrap();
    assert_eq!(sparse, r#"{"name":"anywhere","type":"ENI"}"#);
}

#[test]
fn look_ups_by_name_category_and_alias() {
    let m = manager();
    for (alias, identity) in [
        ("ns", Namespace::IDENTITY),
        ("hostsrv", HostService::IDENTITY),
        ("hostsrvs", HostService::IDENTITY),
        ("extnet", ExternalNetwork::IDENTITY),
        ("extnets", ExternalNetwork::IDENTITY),
        ("netpol", NetworkAccessPolicy::IDENTITY),
        ("netpols", NetworkAccessPolicy::IDENTITY),
        ("srv", Service::IDENTITY),
    ] {
        assert_eq!(m.identity_from_alias(alias), Some(identity), "{alias}");
    }
    assert_eq!(
        m.identity_from_category("networkaccesspolicies"),
        Some(NetworkAccessPolicy::IDENTITY)
    );
    assert_eq!(
        m.identity_from_name("hostservice"),
        Some(HostService::IDENTITY)
    );
    assert_eq!(NetworkAccessPolicy::IDENTITY.package, "squall");
    let versions: Vec<u32> = gaia::managers().keys().copied().collect();
    assert_eq!(versions, vec![0, 1]);
}

#[test]
fn relationships() {
    let r = manager().relationships();
    let (root, policy) = (Identity::ROOT, NetworkAccessPolicy::IDENTITY);
    for identity in [
        Namespace::IDENTITY,
        HostService::IDENTITY,
        ExternalNetwork::IDENTITY,
        NetworkAccessPolicy::IDENTITY,
        Service::IDENTITY,
    ] {
        for op in [
            Operation::RetrieveMany,
            Operation::Create,
            Operation::Info,
            Operation::Retrieve,
            Operation::Update,
            Operation::Patch,
            Operation::Delete,
        ] {
            assert!(
                r.is_operation_allowed(&identity, &root, op),
                "{identity} {op}"
            );
        }
    }
    assert!(r.is_operation_allowed(&ExternalNetwork::IDENTITY, &policy, Operation::RetrieveMany));
    assert!(r.is_operation_allowed(&Service::IDENTITY, &policy, Operation::RetrieveMany));
    assert!(!r.is_operation_allowed(&ExternalNetwork::IDENTITY, &policy, Operation::Create));
    assert!(!r.is_operation_allowed(
        &Service::IDENTITY,
        &HostService::IDENTITY,
        Operation::RetrieveMany
    ));
    let names: Vec<String> = r
        .parameters_for_operation(&ExternalNetwork::IDENTITY, &root, Operation::RetrieveMany)
        .iter()
        .map(|p| p.name.to_string())
        .collect();
    assert_eq!(names, vec!["q", "archived", "propagated"]);
}

#[test]
fn policy_children_take_a_mode() {
    let r = request("/networkaccesspolicies/p1/externalnetworks").unwrap();
    assert_eq!(
        (r.identity, r.parent_identity),
        (ExternalNetwork::IDENTITY, NetworkAccessPolicy::IDENTITY)
    );
    assert_eq!(
        r.parameters.get("mode").unwrap().string_value(),
        Some("object")
    );
    let r = request("/v/1/networkaccesspolicies/p1/services?mode=subject").unwrap();
    assert_eq!(
        r.parameters.get("mode").unwrap().string_value(),
        Some("subject")
    );
    let e = request("/networkaccesspolicies/p1/services?mode=both").unwrap_err();
    assert_eq!(
        e.iter().next().unwrap().description,
        "Parameter 'mode' must be one of 'subject, object', got 'both'"
    );
    let r = request(
        "/externalnetworks?q=name%20%3D%3D%20a&q=type%20%3D%3D%20ENI&archived=true&propagated=true",
    )
    .unwrap();
    assert_eq!(
        r.parameters.get("q").unwrap().string_values(),
        vec!["name == a", "type == ENI"]
    );
    assert!(r.propagated);
    assert_eq!(
        r.parameters.get("archived").unwrap().bool_value(),
        Some(true)
    );
    let e = request("/namespaces?archived=true").unwrap_err();
    assert_eq!(
        e.iter().next().unwrap().description,
        "Unknown parameter: `archived`"
    );
}

#[test]
fn gaia_models_are_timestamped_through_their_convention_trait() {
    let time = elemental::export::time::OffsetDateTime::from_unix_timestamp_nanos(
        1_796_292_000_500_000_000,
    )
    .expect("a valid time");
    let mut service = Service::default();
    let times = service
        .as_timestamped_mut()
        .expect("services have createTime and updateTime");
    times.set_create_time(Some(time));
    times.set_update_time(Some(time));
    assert_eq!(
        (service.create_time, service.update_time),
        (Some(time), Some(time))
    );
    assert_eq!(
        service.as_timestamped().and_then(|t| t.create_time()),
        Some(time)
    );
    // No gaia model has a parent link.
    assert!(service.as_parented().is_none());
}
