# Veelgestelde vragen.

faq-1-topic = Dimona
faq-1-q = Wanneer moet ik een Dimona-aangifte doen?
faq-1-a = De indiensttreding (IN) ten laatste wanneer de werknemer begint; de uitdiensttreding (OUT) ten laatste de eerste werkdag na het einde; de annulering (CANCEL) ten laatste op de geplande begindag.

faq-2-topic = Dimona
faq-2-q = Wat betekenen de resultaten A, W en B?
faq-2-a = A: aanvaard. W: aanvaard met een waarschuwing (bijvoorbeeld laattijdige aangifte of overschreden studentencontingent). B: geweigerd wegens een blokkerende anomalie; verbeter en geef opnieuw aan.

faq-3-topic = Dimona
faq-3-q = Waar vind ik het Dimona-periodenummer?
faq-3-a = Het wordt gegeven wanneer de aangifte van indiensttreding aanvaard is en staat in uw personeelsbestand. U hebt het nodig voor de uitdiensttreding, de wijziging en de annulering.

faq-4-topic = Studenten
faq-4-q = Hoeveel uren mag een student werken?
faq-4-a = 600 uren per kalenderjaar sinds 2023 (475 van 2017 tot 2022) aan verminderde bijdragen. Daarboven wordt de aangifte aanvaard met waarschuwing 90017-369.

faq-5-topic = Mijn gegevens
faq-5-q = Wie mag mijn gegevens raadplegen?
faq-5-a = Alleen een instelling die het informatieveiligheidscomité gemachtigd heeft, voor een bepaald doel, en die een dossier over u heeft. Elke aanvraag wordt gecontroleerd en geregistreerd.

faq-6-topic = Mijn gegevens
faq-6-q = Hoe weet ik wie mijn gegevens heeft geraadpleegd?
faq-6-a = Meld u aan en open 'Wie raadpleegde mijn gegevens': u ziet er de instelling, de dienst, het doel, de datum en of de aanvraag werd doorgestuurd of geweigerd.

faq-7-topic = Mijn gegevens
faq-7-q = Een van mijn gegevens is fout. Wat moet ik doen?
faq-7-a = Vraag een verbetering aan vanaf de pagina 'Wie raadpleegde mijn gegevens'. Ze wordt gestuurd naar de instelling die dat gegeven valideert en u volgt de status.

faq-8-topic = Netwerk
faq-8-q = Wat is het verwijzingsrepertorium?
faq-8-a = Het geeft aan welke instelling een dossier heeft over welke persoon, in welke hoedanigheid en voor welke periode. Het bevat de gegevens zelf niet: die blijven bij hun bron.

faq-9-topic = Netwerk
faq-9-q = Waarom wordt een aanvraag geweigerd?
faq-9-a = Omdat de instelling geen machtiging heeft voor die gegevens en dat doel (code 35001001), of geen dossier over de persoon heeft in het verwijzingsrepertorium (code 35001002).

faq-10-topic = Account
faq-10-q = Mijn account is geblokkeerd. Wat moet ik doen?
faq-10-a = Na vijf foute wachtwoorden wordt de account 15 minuten geblokkeerd om u te beschermen. Wacht en probeer opnieuw; bent u het wachtwoord vergeten, neem dan contact op met de beheerder.

faq-11-topic = Account
faq-11-q = Kan ik het portaal in mijn taal gebruiken?
faq-11-a = Ja: in het Nederlands, Frans, Duits of Engels. Kies de taal bovenaan elke pagina; ze wordt onthouden voor uw volgende bezoeken.

faq-12-topic = Werkgevers
faq-12-q = Hoe exporteer ik mijn personeelsbestand?
faq-12-a = Open 'Personeelsbestand', filter indien nodig en kies 'Downloaden als CSV': het bestand bevat alle periodes van de filter.

faq-13-topic = Werkgevers
faq-13-q = Hoe verstuur ik veel aangiften tegelijk?
faq-13-a = Open 'Bestanden versturen' en verstuur een Dimona-XML-bestand (Dimona_20231.xsd). Een bestand met een fout in de structuur wordt meteen geweigerd, met elke fout en haar regel; anders ziet u enkele seconden later het resultaat van elk formulier en kunt u het ontvangstbewijs (ACRF) en de NOTIFICATION downloaden.

faq-14-topic = Werkgevers
faq-14-q = Mijn sociaal secretariaat doet aangifte voor mij. Hoe werkt dat?
faq-14-a = Uw onderneming geeft het een mandaat. Het secretariaat meldt zich aan met zijn eigen account en kiest dan in het aangifteformulier, het personeelsregister en de mailbox voor welke werkgever het optreedt. Zonder actief mandaat wordt het geweigerd.

faq-15-topic = Account
faq-15-q = Kan ik me aanmelden zonder wachtwoord?
faq-15-a = Als het platform met een identiteitsprovider verbonden is, toont de aanmeldpagina zijn knop. Het e-mailadres dat hij bevestigt, moet dat van uw portaalaccount zijn: het geeft u geen andere rechten.
