//! `exchange`: first contact with each PC through its admin account, and where that account's
//! password comes from.

use super::Checker;
use crate::playbook::raw::RawPlaybook;
use crate::playbook::sections::Exchange;

impl Checker<'_> {
    pub(super) fn exchange(&mut self, raw: &RawPlaybook) -> Exchange {
        let e = &raw.exchange;
        self.name("exchange.admin_user", &e.admin_user, "user name");
        let password_source = self.password_source(
            "exchange.password",
            &e.password,
            "admin password file",
            "RDPLAY_ADMIN_PASSWORD",
        );
        Exchange {
            admin_user: e.admin_user.clone(),
            password: password_source,
            become_method: e.become_method,
        }
    }
}
