# Questions fréquentes (faq-N-topic, faq-N-q, faq-N-a). La recherche couvre les quatre langues.

faq-1-topic = Dimona
faq-1-q = Quand dois-je faire une déclaration Dimona ?
faq-1-a = L'entrée (IN) au plus tard au moment où le travailleur commence ; la sortie (OUT) au plus tard le premier jour ouvrable après la fin ; l'annulation (CANCEL) au plus tard le jour du début prévu.

faq-2-topic = Dimona
faq-2-q = Que signifient les résultats A, W et B ?
faq-2-a = A : acceptée. W : acceptée avec un avertissement (par exemple déclaration tardive ou contingent étudiant dépassé). B : refusée à cause d'une anomalie bloquante ; corrigez et déclarez à nouveau.

faq-3-topic = Dimona
faq-3-q = Où trouver le numéro de période Dimona ?
faq-3-a = Il est donné quand la déclaration d'entrée est acceptée et figure dans votre registre du personnel. Il sert pour la sortie, la modification et l'annulation.

faq-4-topic = Étudiants
faq-4-q = Combien d'heures un étudiant peut-il travailler ?
faq-4-a = 600 heures par année civile depuis 2023 (475 de 2017 à 2022) à cotisations réduites. Au-delà, la déclaration est acceptée avec l'avertissement 90017-369.

faq-5-topic = Mes données
faq-5-q = Qui peut consulter mes données ?
faq-5-a = Seule une institution autorisée par le comité de sécurité de l'information, pour une finalité précise, et qui a un dossier vous concernant. Chaque demande est vérifiée et enregistrée.

faq-6-topic = Mes données
faq-6-q = Comment savoir qui a consulté mes données ?
faq-6-a = Connectez-vous et ouvrez « Qui a consulté mes données » : vous y voyez l'institution, le service, la finalité, la date et si la demande a été transmise ou refusée.

faq-7-topic = Mes données
faq-7-q = Une de mes données est fausse. Que faire ?
faq-7-a = Demandez une correction depuis la page « Qui a consulté mes données ». Elle est envoyée à l'institution qui valide cette donnée et vous en suivez le statut.

faq-8-topic = Réseau
faq-8-q = Qu'est-ce que le répertoire des références ?
faq-8-a = Il indique quelle institution a un dossier sur quelle personne, en quelle qualité et pour quelle période. Il ne contient pas les données elles-mêmes : elles restent chez leur source.

faq-9-topic = Réseau
faq-9-q = Pourquoi une demande est-elle refusée ?
faq-9-a = Parce que l'institution n'a pas d'autorisation pour ces données et cette finalité (code 35001001), ou n'a pas de dossier sur la personne dans le répertoire des références (code 35001002).

faq-10-topic = Compte
faq-10-q = Mon compte est bloqué. Que faire ?
faq-10-a = Après cinq mots de passe erronés, le compte est bloqué 15 minutes pour vous protéger. Attendez, puis réessayez ; si vous avez oublié le mot de passe, contactez l'administrateur.

faq-11-topic = Compte
faq-11-q = Puis-je utiliser le portail dans ma langue ?
faq-11-a = Oui : en français, en néerlandais, en allemand ou en anglais. Choisissez la langue en haut de chaque page ; elle est retenue pour vos visites suivantes.

faq-12-topic = Employeurs
faq-12-q = Comment exporter mon registre du personnel ?
faq-12-a = Ouvrez « Registre du personnel », filtrez si besoin, puis choisissez « Télécharger au format CSV » : le fichier contient toutes les périodes du filtre.

faq-13-topic = Employeurs
faq-13-q = Comment envoyer beaucoup de déclarations à la fois ?
faq-13-a = Ouvrez « Envoi de fichiers » et envoyez un fichier XML Dimona (Dimona_20231.xsd). Un fichier dont la structure contient une erreur est refusé tout de suite, avec chaque erreur et sa ligne ; sinon vous voyez le résultat de chaque formulaire quelques secondes plus tard et pouvez télécharger l'accusé de réception (ACRF) et la NOTIFICATION.

faq-14-topic = Employeurs
faq-14-q = Mon secrétariat social déclare pour moi. Comment cela fonctionne-t-il ?
faq-14-a = Votre entreprise lui donne un mandat. Le secrétariat se connecte avec son propre compte puis choisit, dans le formulaire de déclaration, le registre du personnel et la boîte aux lettres, pour quel employeur il agit. Sans mandat actif, il est refusé.

faq-15-topic = Compte
faq-15-q = Puis-je me connecter sans mot de passe ?
faq-15-a = Si la plateforme est reliée à un fournisseur d'identité, la page de connexion propose son bouton. L'adresse e-mail qu'il confirme doit être celle de votre compte du portail : cela ne vous donne aucun autre droit.
