# Questions and answers.

faq-1-topic = Dimona
faq-1-q = When must I make a Dimona declaration?
faq-1-a = The start (IN) at the latest when the worker starts; the end (OUT) at the latest on the first working day after it; a cancellation (CANCEL) at the latest on the planned start day.

faq-2-topic = Dimona
faq-2-q = What do the results A, W and B mean?
faq-2-a = A: accepted. W: accepted with a warning (for example a late declaration or an exceeded student quota). B: refused because of a blocking anomaly; correct it and declare again.

faq-3-topic = Dimona
faq-3-q = Where do I find the Dimona period number?
faq-3-a = It is given when the start declaration is accepted and appears in your personnel file. You need it for the end, a change and a cancellation.

faq-4-topic = Students
faq-4-q = How many hours may a student work?
faq-4-a = 600 hours per calendar year since 2023 (475 from 2017 to 2022) at reduced contributions. Beyond that the declaration is accepted with warning 90017-369.

faq-5-topic = My data
faq-5-q = Who may look at my data?
faq-5-a = Only an institution authorized by the information security committee, for a stated purpose, that holds a file on you. Every request is checked and recorded.

faq-6-topic = My data
faq-6-q = How do I know who looked at my data?
faq-6-a = Sign in and open 'Who accessed my data': you see the institution, the service, the purpose, the date and whether the request was forwarded or refused.

faq-7-topic = My data
faq-7-q = Some of my data is wrong. What do I do?
faq-7-a = Ask for a correction from the 'Who accessed my data' page. It goes to the institution that validates that data and you can follow its status.

faq-8-topic = Network
faq-8-q = What is the reference directory?
faq-8-a = It records which institution holds a file on which person, in which capacity and for which period. It does not hold the data itself: that stays with its source.

faq-9-topic = Network
faq-9-q = Why is a request refused?
faq-9-a = Because the institution has no authorization for that data and purpose (code 35001001), or holds no file on the person in the reference directory (code 35001002).

faq-10-topic = Account
faq-10-q = My account is locked. What do I do?
faq-10-a = After five wrong passwords the account is locked for 15 minutes to protect you. Wait and try again; if you forgot the password, contact the administrator.

faq-11-topic = Account
faq-11-q = Can I use the portal in my language?
faq-11-a = Yes: in English, French, Dutch or German. Choose the language at the top of any page; it is remembered for your next visits.

faq-12-topic = Employers
faq-12-q = How do I export my personnel file?
faq-12-a = Open 'Personnel file', filter if needed, then choose 'Download as CSV': the file holds every period matching the filter.

faq-13-topic = Employers
faq-13-q = How do I send many declarations at once?
faq-13-a = Open 'File upload' and send a Dimona XML file (Dimona_20231.xsd). A file with an error in its structure is refused at once with each error and its line; otherwise you see the result of every form a few seconds later, and can download the acknowledgement (ACRF) and the NOTIFICATION.

faq-14-topic = Employers
faq-14-q = My social secretariat declares for me. How does that work?
faq-14-a = Your company gives it a mandate. The secretariat signs in with its own account and then chooses, in the declaration form, the personnel file and the mailbox, for which employer it acts. Without an active mandate it is refused.

faq-15-topic = Account
faq-15-q = Can I sign in without a password?
faq-15-a = If the platform is connected to an identity provider, the sign-in page offers its button. The e-mail address it confirms must be the one of your portal account: it gives you no other rights.
