//! Properties and the three classes of what breaking one means. A property is a typed value declared once, in
//! the file of the checker that judges it (or here, for the ones the executor judges while the run goes on);
//! violations carry the property they break, and the verdict reads it, never a string.

use std::fmt;

/// The class of a violation. Ordered by severity: `Safety` is the worst, so the worst of several is their `max`.
///
/// - **safety**: a wrong answer or lost data. Always a failure.
/// - **liveness**: the healthy cluster does not do its job (no convergence once faults stopped, an error with
///   no fault active). Always a failure.
/// - **availability**: an error while a fault was active or recovering. Counted; a failure only under strict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Availability,
    Liveness,
    Safety,
}

impl Class {
    /// Worst first: the order a seed's violations are listed in.
    pub const WORST_FIRST: [Class; 3] = [Class::Safety, Class::Liveness, Class::Availability];

    pub fn name(self) -> &'static str {
        match self {
            Class::Safety => "safety",
            Class::Liveness => "liveness",
            Class::Availability => "availability",
        }
    }

    /// Whether a violation of this class fails the run: safety and liveness always, availability under strict.
    pub fn fails(self, strict: bool) -> bool {
        self != Class::Availability || strict
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A property the harness judges: its name (as reports print it) and its class, the class a violation has when
/// nothing excuses it. The verdict's rules (`crate::verdict`) may lower an `expect` or `wait-consistent`
/// violation to liveness or availability when a fault window or an earlier failed write explains it; a checked
/// property's violations keep its class.
///
/// A struct of constants rather than an enum so that a new checker declares its property in its own file
/// (`pub const PROPERTY: Property = …`) and the registry (`check::CHECKERS`) is the only other line that changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Property {
    pub name: &'static str,
    pub class: Class,
}

impl Property {
    /// The scenario's `expect` lines (known-nodes=, knows=, reply=, contains=).
    pub const EXPECT: Property = Property { name: "expect", class: Class::Safety };
    /// An `expect` answered an error where data was expected.
    pub const AVAILABILITY: Property = Property { name: "availability", class: Class::Availability };
    /// `wait-consistent`: the config signatures agree within the bound.
    pub const WAIT_CONSISTENT: Property = Property { name: "wait-consistent", class: Class::Liveness };
    /// `settle`: converged and agreeing within the bound after faults stop (check/liveness.rs).
    pub const LIVENESS: Property = Property { name: "liveness", class: Class::Liveness };
    /// Every node of a settled cluster lists every member (check/convergence.rs).
    pub const CONVERGENCE: Property = Property { name: "convergence", class: Class::Liveness };
    /// Nodes of one cluster agree on the slot configuration (check/agreement.rs).
    pub const AGREEMENT: Property = Property { name: "agreement", class: Class::Safety };
}

impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}
