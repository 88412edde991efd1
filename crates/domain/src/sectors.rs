//! Sectors of the network and the capacity codes an institution of a
//! sector registers people under in the reference directory.
//!
//! kruispunt's own table, written from the CBSS code lists as used by
//! open-source CPAS software (see the domain brief). The store seeds it on
//! start; operators extend it at run time.

/// A capacity ("quality") code of a sector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub sector: u16,
    pub code: u16,
    pub label_en: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sector {
    pub code: u16,
    pub name_en: &'static str,
}

/// Capacity code of Dimona registrations (sectors 12, 13, 14).
pub const DIMONA_CAPACITY: u16 = 30;

pub const SECTORS: &[Sector] = &[
    Sector {
        code: 6,
        name_en: "Sickness and invalidity insurance (INAMI/RIZIV, sickness funds)",
    },
    Sector {
        code: 7,
        name_en: "Family allowances",
    },
    Sector {
        code: 11,
        name_en: "Work accidents (FEDRIS, insurers)",
    },
    Sector {
        code: 12,
        name_en: "Employers (ONSS/RSZ) - Dimona",
    },
    Sector {
        code: 13,
        name_en: "Employers of local and provincial authorities - Dimona",
    },
    Sector {
        code: 14,
        name_en: "Self-employed and other employers - Dimona",
    },
    Sector {
        code: 15,
        name_en: "Pensions (SFP/FPD)",
    },
    Sector {
        code: 17,
        name_en: "Public social welfare centres (CPAS/OCMW)",
    },
    Sector {
        code: 18,
        name_en: "Unemployment (ONEM/RVA)",
    },
];

/// Generic codes, valid in every sector.
pub const GENERIC_CAPACITIES: &[(u16, &str)] = &[
    (0, "Definitive registration"),
    (902, "Provisional registration"),
    (999, "SSIN replaced"),
];

pub const CAPACITIES: &[Capacity] = &[
    Capacity {
        sector: 6,
        code: 1,
        label_en: "Insured holder",
    },
    Capacity {
        sector: 6,
        code: 2,
        label_en: "Dependant",
    },
    Capacity {
        sector: 7,
        code: 101,
        label_en: "Beneficiary (child)",
    },
    Capacity {
        sector: 7,
        code: 102,
        label_en: "Recipient (parent)",
    },
    Capacity {
        sector: 7,
        code: 103,
        label_en: "Recipient (other)",
    },
    Capacity {
        sector: 11,
        code: 1,
        label_en: "Victim of a work accident",
    },
    Capacity {
        sector: 12,
        code: DIMONA_CAPACITY,
        label_en: "Dimona",
    },
    Capacity {
        sector: 13,
        code: DIMONA_CAPACITY,
        label_en: "Dimona",
    },
    Capacity {
        sector: 14,
        code: DIMONA_CAPACITY,
        label_en: "Dimona",
    },
    Capacity {
        sector: 15,
        code: 1,
        label_en: "Pensioner",
    },
    Capacity {
        sector: 15,
        code: 2,
        label_en: "Pension applicant",
    },
    Capacity {
        sector: 17,
        code: 1,
        label_en: "File under examination",
    },
    Capacity {
        sector: 17,
        code: 2,
        label_en: "Integration income",
    },
    Capacity {
        sector: 17,
        code: 3,
        label_en: "Equivalent income",
    },
    Capacity {
        sector: 17,
        code: 5,
        label_en: "Cohabitant",
    },
    Capacity {
        sector: 18,
        code: 1,
        label_en: "Controlled unemployed",
    },
    Capacity {
        sector: 18,
        code: 2,
        label_en: "Career interruption",
    },
    Capacity {
        sector: 18,
        code: 4,
        label_en: "Job seeker",
    },
];

pub fn capacities_of(sector: u16) -> impl Iterator<Item = Capacity> {
    CAPACITIES
        .iter()
        .copied()
        .filter(move |c| c.sector == sector)
        .chain(
            GENERIC_CAPACITIES
                .iter()
                .map(move |&(code, label_en)| Capacity {
                    sector,
                    code,
                    label_en,
                }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_capacity_belongs_to_a_known_sector() {
        for c in CAPACITIES {
            assert!(SECTORS.iter().any(|s| s.code == c.sector), "{c:?}");
        }
        assert!(capacities_of(17).any(|c| c.code == 2));
        assert!(capacities_of(18).any(|c| c.code == 902));
    }
}
