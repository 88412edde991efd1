# Häufige Fragen.

faq-1-topic = Dimona
faq-1-q = Wann muss ich eine Dimona-Meldung machen?
faq-1-a = Den Beginn (IN) spätestens, wenn der Arbeitnehmer anfängt; das Ende (OUT) spätestens am ersten Werktag nach dem Ende; die Annullierung (CANCEL) spätestens am geplanten Anfangstag.

faq-2-topic = Dimona
faq-2-q = Was bedeuten die Ergebnisse A, W und B?
faq-2-a = A: angenommen. W: mit Warnung angenommen (zum Beispiel verspätete Meldung oder überschrittenes Studentenkontingent). B: wegen einer blockierenden Anomalie abgelehnt; berichtigen und erneut melden.

faq-3-topic = Dimona
faq-3-q = Wo finde ich die Dimona-Periodennummer?
faq-3-a = Sie wird vergeben, wenn die Beginnmeldung angenommen ist, und steht in Ihrem Personalregister. Sie wird für Ende, Änderung und Annullierung gebraucht.

faq-4-topic = Studierende
faq-4-q = Wie viele Stunden darf ein Student arbeiten?
faq-4-a = Seit 2023 600 Stunden pro Kalenderjahr (2017 bis 2022: 475) zu ermäßigten Beiträgen. Darüber hinaus wird die Meldung mit der Warnung 90017-369 angenommen.

faq-5-topic = Meine Daten
faq-5-q = Wer darf meine Daten einsehen?
faq-5-a = Nur eine vom Ausschuss für Informationssicherheit ermächtigte Einrichtung, für einen bestimmten Zweck, die eine Akte zu Ihrer Person führt. Jede Anfrage wird geprüft und festgehalten.

faq-6-topic = Meine Daten
faq-6-q = Wie erfahre ich, wer meine Daten eingesehen hat?
faq-6-a = Melden Sie sich an und öffnen Sie „Wer hat meine Daten eingesehen“: dort sehen Sie Einrichtung, Dienst, Zweck, Datum und ob die Anfrage weitergeleitet oder abgelehnt wurde.

faq-7-topic = Meine Daten
faq-7-q = Eine meiner Angaben ist falsch. Was tun?
faq-7-a = Beantragen Sie eine Berichtigung auf der Seite „Wer hat meine Daten eingesehen“. Sie geht an die Einrichtung, die diese Angabe bestätigt, und Sie verfolgen ihren Status.

faq-8-topic = Netzwerk
faq-8-q = Was ist das Verweisverzeichnis?
faq-8-a = Es gibt an, welche Einrichtung zu welcher Person eine Akte führt, in welcher Eigenschaft und für welchen Zeitraum. Die Daten selbst enthält es nicht: sie bleiben bei ihrer Quelle.

faq-9-topic = Netzwerk
faq-9-q = Warum wird eine Anfrage abgelehnt?
faq-9-a = Weil die Einrichtung keine Genehmigung für diese Daten und diesen Zweck hat (Code 35001001) oder keine Akte zur Person im Verweisverzeichnis führt (Code 35001002).

faq-10-topic = Konto
faq-10-q = Mein Konto ist gesperrt. Was tun?
faq-10-a = Nach fünf falschen Passwörtern wird das Konto zu Ihrem Schutz 15 Minuten gesperrt. Warten Sie und versuchen Sie es erneut; haben Sie das Passwort vergessen, wenden Sie sich an die Verwaltung.

faq-11-topic = Konto
faq-11-q = Kann ich das Portal in meiner Sprache nutzen?
faq-11-a = Ja: auf Deutsch, Französisch, Niederländisch oder Englisch. Wählen Sie die Sprache oben auf jeder Seite; sie wird für Ihre nächsten Besuche gespeichert.

faq-12-topic = Arbeitgeber
faq-12-q = Wie exportiere ich mein Personalregister?
faq-12-a = Öffnen Sie „Personalregister“, filtern Sie bei Bedarf und wählen Sie „Als CSV herunterladen“: die Datei enthält alle Perioden des Filters.

faq-13-topic = Arbeitgeber
faq-13-q = Wie sende ich viele Meldungen auf einmal?
faq-13-a = Öffnen Sie 'Dateiübertragung' und senden Sie eine Dimona-XML-Datei (Dimona_20231.xsd). Eine Datei mit einem Strukturfehler wird sofort abgelehnt, mit jedem Fehler und seiner Zeile; sonst sehen Sie einige Sekunden später das Ergebnis jedes Formulars und können die Empfangsbestätigung (ACRF) und die NOTIFICATION herunterladen.

faq-14-topic = Arbeitgeber
faq-14-q = Mein Sozialsekretariat meldet für mich. Wie funktioniert das?
faq-14-a = Ihr Unternehmen erteilt ihm ein Mandat. Das Sekretariat meldet sich mit seinem eigenen Konto an und wählt dann im Meldeformular, im Personalregister und im Postfach, für welchen Arbeitgeber es handelt. Ohne aktives Mandat wird es abgelehnt.

faq-15-topic = Konto
faq-15-q = Kann ich mich ohne Passwort anmelden?
faq-15-a = Ist die Plattform mit einem Identitätsanbieter verbunden, zeigt die Anmeldeseite dessen Schaltfläche. Die E-Mail-Adresse, die er bestätigt, muss die Ihres Portalkontos sein: Sie erhalten dadurch keine weiteren Rechte.
