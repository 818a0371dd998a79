//! # bahamut-macros
//!
//! `#[bahamut::processor]`, put on an `impl bahamut::Processor<T> for P` block, reads which
//! operation methods the block writes and declares them as the processor's `OPERATIONS`, so
//! that writing a method is the only declaration: the server answers 501 for the others, and
//! `routes_info` lists only these. It also sets `type Error = elemental::Errors` when the block
//! does not name an error type. A method whose name is not an operation is a compile error.
//! Use it through `bahamut` (`#[bahamut::processor]`), which re-exports it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use proc_macro::TokenStream;
use quote::quote;
use syn::{ImplItem, ItemImpl, parse_macro_input, parse_quote};

/// The operation methods of `bahamut::Processor`, and the variant of `Operation` each serves
/// (`retrieve` and `retrieve_encoded` both serve a retrieve: a block writes one of them; the
/// same for `create` and `create_encoded`, `update` and `update_encoded`).
static OPERATION_METHODS: &[(&str, &str)] = &[
    ("retrieve_many", "RetrieveMany"),
    ("retrieve", "Retrieve"),
    ("retrieve_encoded", "Retrieve"),
    ("create", "Create"),
    ("create_encoded", "Create"),
    ("update", "Update"),
    ("update_encoded", "Update"),
    ("patch", "Patch"),
    ("delete", "Delete"),
    ("info", "Info"),
];

/// Declares a processor's operations from the methods its `impl Processor<T>` block writes.
///
/// See the crate documentation, and `bahamut::Processor` for an example.
#[proc_macro_attribute]
pub fn processor(attribute: TokenStream, item: TokenStream) -> TokenStream {
    if !attribute.is_empty() {
        let attribute = proc_macro2::TokenStream::from(attribute);
        return syn::Error::new_spanned(attribute, "#[processor] takes no argument")
            .to_compile_error()
            .into();
    }
    let mut block = parse_macro_input!(item as ItemImpl);
    match declare_operations(&mut block) {
        Ok(()) => quote!(#block).into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn declare_operations(block: &mut ItemImpl) -> syn::Result<()> {
    if block.trait_.is_none() {
        return Err(syn::Error::new_spanned(
            &block.self_ty,
            "#[processor] goes on an `impl bahamut::Processor<T> for ...` block",
        ));
    }
    let mut operations = Vec::new();
    let mut served: Vec<(&str, &str)> = Vec::new();
    let mut has_error_type = false;
    for item in &block.items {
        match item {
            ImplItem::Fn(method) => {
                let name = method.sig.ident.to_string();
                let Some(&(method_name, variant)) =
                    OPERATION_METHODS.iter().find(|(m, _)| *m == name)
                else {
                    let known: Vec<&str> = OPERATION_METHODS.iter().map(|(m, _)| *m).collect();
                    return Err(syn::Error::new_spanned(
                        &method.sig.ident,
                        format!(
                            "`{name}` is not an operation of bahamut::Processor (one of: {})",
                            known.join(", ")
                        ),
                    ));
                };
                if let Some((other, _)) = served.iter().find(|(_, v)| *v == variant) {
                    return Err(syn::Error::new_spanned(
                        &method.sig.ident,
                        format!("`{other}` and `{name}` both serve {variant}: write one of them"),
                    ));
                }
                served.push((method_name, variant));
                let variant = syn::Ident::new(variant, method.sig.ident.span());
                operations.push(quote!(::bahamut::Operation::#variant));
            }
            ImplItem::Type(alias) if alias.ident == "Error" => has_error_type = true,
            ImplItem::Const(constant) if constant.ident == "OPERATIONS" => {
                return Err(syn::Error::new_spanned(
                    &constant.ident,
                    "#[processor] declares OPERATIONS from the methods written: remove this one",
                ));
            }
            _ => {}
        }
    }
    block.items.push(parse_quote! {
        const OPERATIONS: &'static [::bahamut::Operation] = &[#(#operations),*];
    });
    if !has_error_type {
        block.items.push(parse_quote! {
            type Error = ::bahamut::Errors;
        });
    }
    Ok(())
}
