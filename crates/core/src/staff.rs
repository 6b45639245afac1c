//! Staff roles and what each may do. One table, [`Role::may`], decides for every route
//! of the staff console: the counter and the back office ask it, never a role name.

use std::fmt;
use std::str::FromStr;

/// A staff member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Runs the business: staff, catalog, reports, the audit log, and all a clerk and
    /// support do.
    Admin,
    /// Works a shop counter: finds lines, sells (cash or card terminal), prints receipts.
    Clerk,
    /// Answers travellers: finds customers, sees their lines, orders, payments and
    /// messages, resends receipts and install mails. Moves no money.
    Support,
}

/// Something a staff route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// The console's front page and one's own account (password, second factor).
    Console,
    /// Find a line or customer at the counter and sell to them (renew, add-on, top-up)
    /// taking cash or a card terminal; print receipts.
    Counter,
    /// See customers, their lines, orders, payments and messages.
    SeeCustomers,
    /// Add staff and change their roles.
    ManageStaff,
    /// Read the audit log.
    SeeAudit,
    /// See the stock of SIM cards and eSIM profiles and import more.
    Inventory,
    /// Sales reports and their CSV.
    Reports,
    /// Promo codes and festival campaigns: add one, end one.
    Promotions,
    /// The catalog: add, change, retire and restore plans and add-ons.
    Catalog,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Clerk, Role::Support];

    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Clerk => "clerk",
            Role::Support => "support",
        }
    }

    /// Whether this role may do `p`.
    pub fn may(self, p: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Admin => true,
            Role::Clerk => matches!(p, P::Console | P::Counter),
            Role::Support => matches!(p, P::Console | P::SeeCustomers),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a role is admin, clerk or support")]
pub struct RoleError;

impl FromStr for Role {
    type Err = RoleError;
    fn from_str(s: &str) -> Result<Self, RoleError> {
        Role::ALL
            .into_iter()
            .find(|r| r.code() == s.trim())
            .ok_or(RoleError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_may_do_its_work_and_no_more() {
        use Permission as P;
        let all = [
            P::Console,
            P::Counter,
            P::SeeCustomers,
            P::ManageStaff,
            P::SeeAudit,
            P::Inventory,
            P::Reports,
        ];
        assert!(all.iter().all(|p| Role::Admin.may(*p)));
        let clerk: Vec<_> = all.iter().filter(|p| Role::Clerk.may(**p)).collect();
        assert_eq!(clerk, [&P::Console, &P::Counter]);
        let support: Vec<_> = all.iter().filter(|p| Role::Support.may(**p)).collect();
        assert_eq!(support, [&P::Console, &P::SeeCustomers]);
        for r in Role::ALL {
            assert_eq!(r.code().parse::<Role>(), Ok(r));
        }
        assert_eq!("root".parse::<Role>(), Err(RoleError));
    }
}
