//! Word lists for synthetic people and companies: common Belgian names in
//! the three national languages, real municipalities with their postal codes.

pub const FIRST_NAMES_M: &[&str] = &[
    "Jan", "Luc", "Marc", "Pieter", "Jean", "Michel", "Pierre", "Philippe", "Thomas", "Lucas", "Noah", "Arthur",
    "Louis", "Liam", "Jules", "Adam", "Mohamed", "Wim", "Koen", "Bart", "Dirk", "Stefan", "Lukas", "Hans",
    "Olivier", "Nicolas", "Maxime", "Guillaume", "Tom", "Kevin", "Youssef", "Victor", "Milan", "Finn",
];
pub const FIRST_NAMES_F: &[&str] = &[
    "Marie", "Anne", "Sophie", "Julie", "Emma", "Olivia", "Louise", "Mila", "Elise", "Lena", "Nathalie",
    "Isabelle", "Catherine", "An", "Els", "Katrien", "Sarah", "Laura", "Charlotte", "Camille", "Fatima",
    "Ines", "Lotte", "Hanne", "Anja", "Petra", "Claudia", "Chloé", "Manon", "Léa", "Nora", "Amira",
];
pub const LAST_NAMES: &[&str] = &[
    "Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "De Smet",
    "Dubois", "Lambert", "Dupont", "Martin", "Simon", "Laurent", "Leclercq", "Dumont", "Lejeune", "Renard",
    "Vermeulen", "Van den Bossche", "De Clercq", "Hermans", "Aerts", "Michiels", "Pauwels", "Declercq",
    "Schmitz", "Müller", "Kohnen", "Lentz", "Cremer", "El Amrani", "Benali", "Rossi", "Nowak", "Popescu",
    "Van Damme", "De Backer", "Leroy", "Fontaine", "Denis", "Collin", "Mathieu", "Gilles", "François",
];
/// (postal code, municipality, region language)
pub const MUNICIPALITIES: &[(&str, &str)] = &[
    ("1000", "Bruxelles"), ("1030", "Schaerbeek"), ("1050", "Ixelles"), ("1080", "Molenbeek-Saint-Jean"),
    ("2000", "Antwerpen"), ("2800", "Mechelen"), ("3000", "Leuven"), ("3500", "Hasselt"), ("4000", "Liège"),
    ("4700", "Eupen"), ("4780", "Sankt Vith"), ("5000", "Namur"), ("6000", "Charleroi"), ("7000", "Mons"),
    ("8000", "Brugge"), ("8500", "Kortrijk"), ("9000", "Gent"), ("9300", "Aalst"), ("6700", "Arlon"),
    ("1300", "Wavre"), ("7500", "Tournai"), ("3600", "Genk"), ("2300", "Turnhout"), ("8400", "Oostende"),
];
pub const STREETS: &[&str] = &[
    "Rue de la Loi", "Kerkstraat", "Stationsstraat", "Rue de l'Église", "Dorpstraat", "Chaussée de Louvain",
    "Nieuwstraat", "Rue du Moulin", "Hauptstraße", "Molenstraat", "Avenue Louise", "Schoolstraat",
    "Rue Haute", "Kapelstraat", "Boulevard d'Avroy", "Grote Markt", "Rue Neuve", "Veldstraat",
];
pub const NATIONALITIES: &[&str] = &["BE", "BE", "BE", "BE", "BE", "BE", "BE", "BE", "NL", "FR", "DE", "IT", "MA", "PL", "RO", "ES", "TR"];

pub const COMPANY_KINDS: &[(&str, &str)] = &[
    ("Brasserie", "302"), ("Restaurant", "302"), ("Bouwbedrijf", "124"), ("Construction", "124"),
    ("Transport", "140"), ("Tuinbouw", "145"), ("Horticulture", "145"), ("Landbouw", "144"),
    ("Electro", "149"), ("Interim", "322"), ("Uitzendkantoor", "322"), ("Nettoyage", "121"),
    ("Commerce", "201"), ("Handel", "201"), ("Bureau", "200"), ("Consult", "200"), ("Boulangerie", "118"),
];
pub const COMPANY_SUFFIXES: &[&str] = &["SA", "SRL", "NV", "BV", "SC", "VZW", "ASBL"];
