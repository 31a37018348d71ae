"""Synthetic web-like corpus with planted, recorded ground truth.

The generator writes JSONL files of records ``{"id", "text", "url", "crawl_date", "domain"}`` plus a
``manifest.json`` that records what was planted: the language of every document, exact duplicate
groups, near-duplicate clusters with their measured Jaccard similarity, personal data (type, value,
character offsets), junk and boilerplate documents, and (optionally) a ``malformed.jsonl`` file with one
line per bad-input class and the ingest reason code each line must produce.

Documents are built from this module's own word lists and sentence templates (ten languages: en, de,
fr, es, it, pt, nl, ru, zh, ja), so they read as real language to a language identifier and pass the
usual Gopher / C4 document rules (sentences with terminal punctuation, stop words, 80-1500 words),
while staying cheap to generate: one core writes about 9 MB/s of plain JSONL (about 25 s of CPU per
200 MB; gzip adds about 40%, zstd about 10%). The command prints the speed it measured.

Reference similarity (what ``jaccard`` in the manifest means): text lowercased, tokens are the matches
of the regex ``\\w+`` (``re.UNICODE``), shingles are the *set* of word n-grams (n = 5);
``J(a, b) = |S(a) & S(b)| / |S(a) | S(b)|``. A text with fewer than n tokens has one shingle, its whole
token sequence; two texts without any token have similarity 1.0. See :func:`true_jaccard`.

Sizes: ``--size`` counts the *uncompressed* bytes of the JSONL part files (``malformed.jsonl`` is extra).
Units are decimal (``KB`` = 1000, ``MB`` = 10**6) unless written ``KiB``/``MiB``/``GiB``.

Determinism: the same seed, size and file count give byte-identical files (gzip is written with
``mtime=0`` and no file name; zstd is single-threaded). The corpus content does not depend on the
compression or on ``--no-malformed``.

Usage::

    python -m benchmarks.corpus --out DIR --size 200MB [--seed N] [--files K]
        [--compression none|gz|zst|LIST] [--no-malformed]

``--compression`` also takes a comma-separated list, applied to the part files in turn
(``none,gz`` gives ``part-00000.jsonl`` and ``part-00001.jsonl.gz``).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gzip
import hashlib
import heapq
import io
import json
import logging
import math
import random
import re
import sys
import time
import unicodedata
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence, Union

LOG = logging.getLogger(__name__)

#: Bumped whenever the output for a given (seed, size, files) changes.
GENERATOR_VERSION = 1
MANIFEST_FORMAT = "corpusforge-synthetic-corpus"

TOKEN_RE = re.compile(r"\w+", re.UNICODE)
SHINGLE_N = 5

LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "ru", "zh", "ja")
#: Share of prose documents per language; English is the majority.
LANGUAGE_WEIGHTS = {"en": 0.55, **{code: 0.05 for code in LANGUAGES if code != "en"}}
NEAR_DUP_TARGETS = (0.95, 0.9, 0.8, 0.7, 0.5)
PII_TYPES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IP_ADDRESS", "US_SSN", "IBAN_CODE")
JUNK_CATEGORIES = (
    "cookie_notice",
    "lorem_ipsum",
    "javascript_warning",
    "navigation_menu",
    "symbol_lines",
    "repetitive_lines",
    "short_doc",
    "code_braces",
    "boilerplate_lines",
)
COMPRESSIONS = {"none": ".jsonl", "gz": ".jsonl.gz", "zst": ".jsonl.zst"}
MALFORMED_FILE = "malformed.jsonl"
MANIFEST_FILE = "manifest.json"

# --------------------------------------------------------------------------------------------------
# Lexicons. Every list is "|"-separated. Slots:
#   subj/obj/verb/trail/cop/pred/open/conj   general prose (articles)
#   f_subj/f_open/f_close/f_q                forum posts
#   p_subj/p_verb/p_obj/p_trail/pcop/p_pred/p_fixed   product pages
# Phrases are kept short (mostly at most four words) so that a long document rarely repeats a word
# 5-gram, which the Gopher repetition rules would count against it.
# --------------------------------------------------------------------------------------------------
_LEXICON: dict[str, dict[str, str]] = {
    "en": {
        "subj": "the city council|the local government|our company|the new mayor|the school board|a small bakery|"
        "the regional hospital|the football club|a young engineer|the university|the public library|my neighbor|"
        "the research team|a family business|the train operator|the museum|the airline|a local farmer|"
        "the police department|a popular restaurant|the weather service|the health ministry|the water company|"
        "the city zoo|the savings bank|our village|the county court|a local charity|the head of the school|"
        "the owner of the bakery|the friends of the museum|the bus and tram company|the board of the club",
        "verb": "announced|approved|introduced|tested|opened|criticized|presented|expanded|reviewed|delayed|improved|"
        "cancelled|promoted|supported|published|rejected|welcomed|repaired|built|sold|bought|described|planned|"
        "discussed|launched|explained|closed|questioned|funded|organized",
        "obj": "a new bicycle lane|the annual budget|a modern playground|the old bridge|a detailed report|"
        "the winter schedule|a free health check|the public swimming pool|several new jobs|a long-term plan|"
        "the parking rules|the summer festival|a better bus service|the local market|a new recycling program|"
        "the school lunch menu|an online course|the new train station|a cheaper ticket|the city park|"
        "the historic town hall|a weekly newsletter|the harbor area|a small solar farm|the hiking trails|"
        "the traffic lights|a community garden|the science exhibition|a new housing project|the evening classes|"
        "the flood defenses|a public survey|the road repairs|the night market|the emergency service|"
        "the cost of parking|"
        "a list of new rules|the future of the harbor|a plan to cut waste|a guide to local walks|"
        "the history of the mill",
        "trail": "last week|on Monday|in the city center|after a long debate|for the first time|without much support|"
        "earlier this year|in the northern district|despite the rain|before the holidays|at a press conference|"
        "with great care|near the river|during the summer|by late March|in a public meeting|for local families|"
        "at short notice|after several delays|with help from volunteers|in the old quarter|on Friday evening|"
        "for the coming season|in record time|despite strong criticism|with the support of parents|"
        "to the surprise of many|at the request of residents",
        "cop": "was",
        "pred": "very important for residents|quite expensive|surprisingly popular|difficult to understand|"
        "open to everyone|a great success|still under review|better than expected|too slow for many|"
        "ready for the public|a welcome change|hard to find|finally complete|safe and clean|busy all day|"
        "popular with families|open to the public|close to the station",
        "open": "However,|In addition,|Meanwhile,|According to officials,|As a result,|For example,|In the end,|"
        "Surprisingly,|At the same time,|Unfortunately,|Fortunately,|Last year,|In general,|On the other hand,|"
        "After all,",
        "conj": ", and|, but|, while|, so|, because|, although",
        "f_subj": "my brother|my wife|my old laptop|my landlord|my cousin|our dog|my manager|my daughter|my husband|"
        "my best friend",
        "f_open": "Hi everyone, I have a question about this.|Hello all, this is my first post here.|"
        "Thanks for reading my post.|I hope this is the right forum for this.|Sorry if this was asked before.|"
        "Long time reader, first time poster here.",
        "f_close": "Thanks in advance for any help.|Any advice would be appreciated.|Let me know what you think.|"
        "I will post an update next week.|Cheers and have a nice day.|Thank you all for the quick replies.",
        "f_q": "Does anyone know about|Has anyone seen|What do you think about|Where can I find|Who remembers|"
        "Can someone explain",
        "p_subj": "this jacket|the battery|this coffee machine|the keyboard|the new phone|this backpack|the desk lamp|"
        "the blender|this mattress|the camera|the wireless speaker|this kettle|the running shoe|the office chair",
        "p_verb": "has|includes|offers|features|provides|comes with|uses|supports",
        "p_obj": "a solid handle|two extra filters|a washable cover|three color options|a long warranty|"
        "a compact design|a quiet motor|a soft lining|a large display|a waterproof shell|a metal frame|"
        "a travel case|an energy saving mode|a set of spare parts|a pair of straps|the option to upgrade",
        "p_trail": "for everyday use|at a fair price|for small kitchens|for long trips|in every season|"
        "for home offices|for beginners|for busy families|for work and travel|with a carry bag|"
        "to use at home|with the original box",
        "pcop": "is",
        "p_pred": "easy to clean|very comfortable|light and sturdy|great value for money|simple to set up|"
        "perfect for travel|quieter than expected|available in stock|made from recycled materials|"
        "covered by the warranty|easy to store and carry|the best of its kind|a pleasure to use",
        "p_fixed": "Free delivery on orders over fifty dollars.|Returns are accepted within thirty days of purchase.|"
        "Customers rated this item four out of five stars.|Please check the size chart before ordering.|"
        "The package ships within two business days.|Our support team answers questions every weekday.",
    },
    "de": {
        "subj": "die Stadtverwaltung|der Gemeinderat|unsere Firma|die neue Bürgermeisterin|der Schulleiter|"
        "eine kleine Bäckerei|das Krankenhaus|der Fußballverein|eine junge Ingenieurin|die Universität|"
        "die Stadtbibliothek|mein Nachbar|das Forschungsteam|ein Familienbetrieb|die Bahn|das Museum|"
        "die Fluggesellschaft|der Bauer|die Polizei|ein beliebtes Restaurant|der Wetterdienst|das Ministerium|"
        "der Energieversorger|der Zoo|die Sparkasse|unser Dorf|das Landgericht|ein Sportverein",
        "verb": "plant|kritisiert|eröffnet|testet|präsentiert|erweitert|prüft|verbessert|unterstützt|veröffentlicht|"
        "begrüßt|repariert|baut|verkauft|kauft|beschreibt|diskutiert|erklärt|schließt|finanziert|fördert|braucht|"
        "sucht|zeigt|organisiert|bezahlt",
        "obj": "einen neuen Radweg|den Haushalt|einen modernen Spielplatz|die alte Brücke|einen ausführlichen Bericht|"
        "den Winterfahrplan|das Freibad|neue Arbeitsplätze|einen langfristigen Plan|die Parkregeln|das Sommerfest|"
        "einen besseren Busverkehr|den Wochenmarkt|ein neues Recyclingprogramm|das Mittagessen|einen Onlinekurs|"
        "den neuen Bahnhof|günstigere Fahrkarten|den Stadtpark|das historische Rathaus|einen Newsletter|den Hafen|"
        "eine kleine Solaranlage|die Wanderwege|die Ampeln|einen Gemeinschaftsgarten|die Ausstellung|"
        "ein Wohnprojekt|die Abendkurse|den Hochwasserschutz|eine Umfrage|die Straßenarbeiten|den Nachtmarkt|"
        "den Rettungsdienst",
        "trail": "seit letzter Woche|am Montag|in der Innenstadt|nach langer Diskussion|zum ersten Mal|"
        "ohne große Unterstützung|in diesem Jahr|im Norden der Stadt|trotz des Regens|vor den Ferien|"
        "auf einer Pressekonferenz|mit großer Sorgfalt|in der Nähe des Flusses|im Sommer|bis Ende März|"
        "in einer Sitzung|für junge Familien|ganz kurzfristig|nach mehreren Verzögerungen|mit Hilfe von Freiwilligen|"
        "in der Altstadt|am Freitagabend|für die nächste Saison|in kurzer Zeit|trotz heftiger Kritik",
        "cop": "ist",
        "pred": "sehr wichtig für Anwohner|ziemlich teuer|überraschend beliebt|schwer zu verstehen|für alle offen|"
        "ein großer Erfolg|noch nicht entschieden|besser als erwartet|für viele zu langsam|endlich fertig|"
        "sauber und sicher|den ganzen Tag voll|eine willkommene Abwechslung|kaum zu finden|"
        "bereit für die Öffentlichkeit",
        "open": "Außerdem|Trotzdem|Deshalb|Inzwischen|Heute|Zum Glück|Leider|Allerdings|Gleichzeitig|Letztes Jahr|"
        "Im Allgemeinen|Am Ende|Überraschenderweise|Dennoch|Zunächst",
        "conj": ", und|, aber|, denn|, doch",
        "f_subj": "mein Bruder|meine Frau|mein alter Laptop|mein Vermieter|mein Cousin|unser Hund|mein Chef|"
        "meine Tochter|mein Mann|meine beste Freundin",
        "f_open": "Hallo zusammen, ich habe eine Frage.|Hallo Leute, das ist mein erster Beitrag hier.|"
        "Danke, dass ihr meinen Beitrag lest.|Ich hoffe, das ist das richtige Forum dafür.|"
        "Entschuldigung, falls das schon gefragt wurde.|Ich lese hier schon lange mit.",
        "f_close": "Vielen Dank im Voraus für eure Hilfe.|Jeder Tipp ist willkommen.|Sagt mir bitte, was ihr denkt.|"
        "Ich melde mich nächste Woche wieder.|Liebe Grüße und einen schönen Tag.|Danke für die schnellen Antworten.",
        "f_q": "Kennt jemand|Wer kennt|Wo finde ich|Wer empfiehlt|Hat jemand schon|Sucht noch jemand",
        "p_subj": "diese Jacke|der Akku|diese Kaffeemaschine|die Tastatur|das neue Handy|dieser Rucksack|"
        "die Schreibtischlampe|der Mixer|diese Matratze|die Kamera|der Lautsprecher|dieser Wasserkocher|"
        "der Laufschuh|der Bürostuhl",
        "p_verb": "hat|bietet|enthält|besitzt|nutzt|unterstützt|braucht|liefert",
        "p_obj": "einen stabilen Griff|zwei Ersatzfilter|einen waschbaren Bezug|drei Farben|eine lange Garantie|"
        "ein kompaktes Design|einen leisen Motor|ein weiches Futter|ein großes Display|eine wasserdichte Hülle|"
        "einen Metallrahmen|eine Tragetasche|einen Energiesparmodus",
        "p_trail": "für den Alltag|zu einem fairen Preis|für kleine Küchen|für lange Reisen|in jeder Jahreszeit|"
        "für das Homeoffice|für Anfänger|für Familien",
        "pcop": "ist",
        "p_pred": "leicht zu reinigen|sehr bequem|leicht und robust|sein Geld wert|einfach einzurichten|"
        "perfekt für Reisen|leiser als erwartet|sofort lieferbar|aus recyceltem Material|gut verarbeitet",
        "p_fixed": "Kostenloser Versand ab fünfzig Euro.|Rücksendungen sind innerhalb von dreißig Tagen möglich.|"
        "Kunden bewerten diesen Artikel mit vier von fünf Sternen.|"
        "Bitte prüfen Sie vor der Bestellung die Größentabelle.|"
        "Das Paket wird innerhalb von zwei Werktagen verschickt.|Unser Kundenservice hilft Ihnen an allen Werktagen.",
    },
    "fr": {
        "subj": "la mairie|le conseil municipal|notre entreprise|le nouveau maire|la directrice de l'école|"
        "une petite boulangerie|l'hôpital régional|le club de football|une jeune ingénieure|l'université|"
        "la bibliothèque|mon voisin|l'équipe de recherche|une entreprise familiale|la compagnie ferroviaire|"
        "le musée|la compagnie aérienne|un agriculteur local|la police|un restaurant populaire|le service météo|"
        "le ministère|le fournisseur d'énergie|le zoo|la banque|notre village|le tribunal|une association locale",
        "verb": "a annoncé|a approuvé|a présenté|a testé|a ouvert|a critiqué|a agrandi|a examiné|a reporté|"
        "a amélioré|a annulé|a soutenu|a publié|a refusé|a accueilli|a réparé|a construit|a vendu|a acheté|"
        "a décrit|a prévu|a discuté|a lancé|a expliqué|a fermé|a financé",
        "obj": "une nouvelle piste cyclable|le budget annuel|une aire de jeux|le vieux pont|un rapport détaillé|"
        "les horaires d'hiver|un bilan de santé gratuit|la piscine municipale|plusieurs emplois|un plan à long terme|"
        "les règles de stationnement|la fête d'été|un meilleur service de bus|le marché local|"
        "un programme de recyclage|le menu de la cantine|un cours en ligne|la nouvelle gare|un billet moins cher|"
        "le parc de la ville|l'hôtel de ville|une lettre d'information|le quartier du port|"
        "une petite centrale solaire|les sentiers de randonnée|les feux de circulation|un jardin partagé|"
        "l'exposition scientifique|un projet de logement|les cours du soir|les digues|une enquête publique|"
        "les travaux de voirie|le marché de nuit|le service d'urgence",
        "trail": "la semaine dernière|lundi matin|dans le centre-ville|après un long débat|pour la première fois|"
        "sans grand soutien|cette année|dans le quartier nord|malgré la pluie|avant les vacances|"
        "lors d'une conférence|avec beaucoup de soin|près de la rivière|pendant l'été|avant la fin mars|"
        "lors d'une réunion publique|pour les familles|au dernier moment|après plusieurs retards|"
        "avec l'aide de bénévoles|dans la vieille ville|vendredi soir|pour la saison prochaine|"
        "en un temps record|malgré de vives critiques",
        "cop": "est",
        "pred": "très important pour les habitants|assez cher|étonnamment populaire|difficile à comprendre|"
        "ouvert à tous|un grand succès|toujours en discussion|meilleur que prévu|trop lent pour beaucoup|"
        "enfin terminé|propre et sûr|un changement bienvenu|difficile à trouver|prêt pour le public|"
        "plein toute la journée",
        "open": "Cependant,|De plus,|Pendant ce temps,|Selon les responsables,|Par conséquent,|Par exemple,|"
        "Finalement,|Curieusement,|En même temps,|Malheureusement,|Heureusement,|L'année dernière,|En général,|"
        "D'un autre côté,|Après tout,",
        "conj": ", et|, mais|, car|, donc|, alors que",
        "f_subj": "mon frère|ma femme|mon vieil ordinateur|mon propriétaire|mon cousin|notre chien|mon patron|"
        "ma fille|mon mari|ma meilleure amie",
        "f_open": "Bonjour à tous, j'ai une question.|Salut, c'est mon premier message ici.|Merci de lire mon message.|"
        "J'espère que c'est le bon forum pour ça.|Désolé si la question a déjà été posée.|"
        "Je lis ce forum depuis longtemps.",
        "f_close": "Merci d'avance pour votre aide.|Tous les conseils sont les bienvenus.|"
        "Dites-moi ce que vous en pensez.|Je vous tiens au courant la semaine prochaine.|Bonne journée à tous.|"
        "Merci pour vos réponses rapides.",
        "f_q": "Quelqu'un connaît|Qui a déjà vu|Qui recommande|Où puis-je trouver|Quelqu'un a testé|Qui a acheté",
        "p_subj": "cette veste|la batterie|cette machine à café|le clavier|le nouveau téléphone|ce sac à dos|"
        "la lampe de bureau|le mixeur|ce matelas|l'appareil photo|l'enceinte sans fil|cette bouilloire|"
        "la chaussure de course|la chaise de bureau",
        "p_verb": "a|offre|comprend|possède|utilise|propose|inclut|contient",
        "p_obj": "une poignée solide|deux filtres de rechange|une housse lavable|trois couleurs|une longue garantie|"
        "un design compact|un moteur silencieux|une doublure douce|un grand écran|une coque étanche|"
        "un cadre en métal|un étui de voyage|un mode économie",
        "p_trail": "pour tous les jours|à un prix juste|pour les petites cuisines|pour les longs voyages|"
        "en toute saison|pour le télétravail|pour les débutants|pour les familles",
        "pcop": "est",
        "p_pred": "facile à nettoyer|très confortable|léger et solide|vendu à un bon prix|simple à installer|"
        "parfait pour voyager|plus silencieux que prévu|disponible en stock|fabriqué en matériaux recyclés|"
        "garanti deux ans",
        "p_fixed": "Livraison gratuite dès cinquante euros d'achat.|Les retours sont acceptés pendant trente jours.|"
        "Les clients donnent quatre étoiles sur cinq à cet article.|Vérifiez le guide des tailles avant de commander.|"
        "Le colis est expédié sous deux jours ouvrés.|Notre service client répond du lundi au vendredi.",
    },
    "es": {
        "subj": "el ayuntamiento|el consejo municipal|nuestra empresa|el nuevo alcalde|la directora del colegio|"
        "una pequeña panadería|el hospital regional|el club de fútbol|una joven ingeniera|la universidad|"
        "la biblioteca|mi vecino|el equipo de investigación|una empresa familiar|la compañía de trenes|el museo|"
        "la aerolínea|un agricultor local|la policía|un restaurante popular|el servicio meteorológico|"
        "el ministerio de salud|la compañía eléctrica|el zoológico|el banco|nuestro pueblo|el juzgado|"
        "una asociación vecinal",
        "verb": "anunció|aprobó|presentó|probó|abrió|criticó|amplió|revisó|retrasó|mejoró|canceló|apoyó|publicó|"
        "rechazó|recibió|reparó|construyó|vendió|compró|describió|planificó|discutió|lanzó|explicó|cerró|financió",
        "obj": "un nuevo carril bici|el presupuesto anual|un parque infantil|el puente viejo|un informe detallado|"
        "el horario de invierno|una revisión médica gratuita|la piscina municipal|varios empleos nuevos|"
        "un plan a largo plazo|las normas de aparcamiento|la fiesta de verano|un mejor servicio de autobuses|"
        "el mercado local|un programa de reciclaje|el menú escolar|un curso en línea|la nueva estación|"
        "un billete más barato|el parque de la ciudad|el edificio histórico|un boletín semanal|la zona del puerto|"
        "una pequeña planta solar|las rutas de senderismo|los semáforos|un huerto comunitario|"
        "la exposición científica|un proyecto de viviendas|las clases nocturnas|las defensas del río|"
        "una encuesta pública|las obras de la carretera|el mercado nocturno|el servicio de urgencias",
        "trail": "la semana pasada|el lunes|en el centro de la ciudad|tras un largo debate|por primera vez|"
        "sin mucho apoyo|este año|en el barrio norte|a pesar de la lluvia|antes de las vacaciones|"
        "en una rueda de prensa|con mucho cuidado|cerca del río|durante el verano|a finales de marzo|"
        "en una reunión pública|para las familias|sin previo aviso|después de varios retrasos|"
        "con ayuda de voluntarios|en el casco antiguo|el viernes por la noche|para la próxima temporada|"
        "en tiempo récord|pese a las críticas",
        "cop": "es",
        "pred": "muy importante para los vecinos|bastante caro|sorprendentemente popular|difícil de entender|"
        "abierto a todos|un gran éxito|todavía en estudio|mejor de lo esperado|demasiado lento|"
        "por fin una realidad|limpio y seguro|un cambio positivo|difícil de encontrar|útil para todos|"
        "una buena noticia",
        "open": "Sin embargo,|Además,|Mientras tanto,|Según los responsables,|Como resultado,|Por ejemplo,|Al final,|"
        "Curiosamente,|Al mismo tiempo,|Lamentablemente,|Por suerte,|El año pasado,|En general,|Por otro lado,|"
        "Después de todo,",
        "conj": ", y|, pero|, porque|, así que|, mientras que",
        "f_subj": "mi hermano|mi mujer|mi viejo portátil|mi casero|mi primo|nuestro perro|mi jefe|mi hija|mi marido|"
        "mi mejor amiga",
        "f_open": "Hola a todos, tengo una pregunta.|Hola, este es mi primer mensaje aquí.|"
        "Gracias por leer mi mensaje.|"
        "Espero que este sea el foro correcto.|Perdón si ya se preguntó antes.|"
        "Llevo mucho tiempo leyendo este foro.",
        "f_close": "Gracias de antemano por la ayuda.|Cualquier consejo es bienvenido.|Decidme qué os parece.|"
        "La semana que viene os cuento cómo fue.|Saludos y buen día a todos.|Gracias por las respuestas tan rápidas.",
        "f_q": "¿Alguien conoce|¿Quién ha probado|¿Dónde puedo encontrar|¿Alguien recomienda|¿Alguien ha visto|"
        "¿Quién ha comprado",
        "p_subj": "esta chaqueta|la batería|esta cafetera|el teclado|el nuevo teléfono|esta mochila|"
        "la lámpara de escritorio|la batidora|este colchón|la cámara|el altavoz inalámbrico|este hervidor|"
        "la zapatilla de correr|la silla de oficina",
        "p_verb": "tiene|ofrece|incluye|trae|usa|lleva|admite|integra",
        "p_obj": "un asa resistente|dos filtros de repuesto|una funda lavable|tres colores|una garantía larga|"
        "un diseño compacto|un motor silencioso|un forro suave|una pantalla grande|una carcasa impermeable|"
        "un marco metálico|un estuche de viaje|un modo de ahorro",
        "p_trail": "para el día a día|a buen precio|para cocinas pequeñas|para viajes largos|en cualquier estación|"
        "para teletrabajar|para principiantes|para familias",
        "pcop": "es",
        "p_pred": "fácil de limpiar|muy cómodo|ligero y resistente|una buena compra|sencillo de instalar|"
        "perfecto para viajar|más silencioso de lo esperado|muy práctico|de materiales reciclados|de buena calidad",
        "p_fixed": "Envío gratuito en pedidos superiores a cincuenta euros.|"
        "Se aceptan devoluciones durante treinta días.|"
        "Los clientes valoran este artículo con cuatro estrellas.|Consulte la guía de tallas antes de comprar.|"
        "El paquete se envía en dos días laborables.|Nuestro servicio de atención responde de lunes a viernes.",
    },
    "it": {
        "subj": "il comune|il consiglio comunale|la nostra azienda|il nuovo sindaco|la preside della scuola|"
        "un piccolo forno|l'ospedale regionale|la squadra di calcio|una giovane ingegnera|l'università|"
        "la biblioteca|il mio vicino|il gruppo di ricerca|un'azienda di famiglia|la società ferroviaria|il museo|"
        "la compagnia aerea|un agricoltore locale|la polizia|un ristorante famoso|il servizio meteo|"
        "il ministero della salute|la società elettrica|lo zoo|la banca|il nostro paese|il tribunale|"
        "un'associazione locale",
        "verb": "ha annunciato|ha approvato|ha presentato|ha provato|ha aperto|ha criticato|ha ampliato|ha esaminato|"
        "ha rinviato|ha migliorato|ha cancellato|ha sostenuto|ha pubblicato|ha rifiutato|ha accolto|ha riparato|"
        "ha costruito|ha venduto|ha comprato|ha descritto|ha previsto|ha discusso|ha lanciato|ha spiegato|"
        "ha chiuso|ha finanziato",
        "obj": "una nuova pista ciclabile|il bilancio annuale|un parco giochi|il vecchio ponte|"
        "una relazione dettagliata|"
        "l'orario invernale|un controllo medico gratuito|la piscina comunale|diversi posti di lavoro|"
        "un piano a lungo termine|le regole del parcheggio|la festa d'estate|un servizio di autobus migliore|"
        "il mercato locale|un programma di riciclo|il menù della mensa|un corso online|la nuova stazione|"
        "un biglietto più economico|il parco cittadino|il palazzo comunale|una newsletter settimanale|"
        "la zona del porto|un piccolo impianto solare|i sentieri di montagna|i semafori|un orto condiviso|"
        "la mostra scientifica|un progetto di case popolari|i corsi serali|gli argini del fiume|"
        "un sondaggio pubblico|i lavori stradali|il mercato notturno|il pronto soccorso",
        "trail": "la settimana scorsa|lunedì mattina|nel centro della città|dopo un lungo dibattito|per la prima volta|"
        "senza molto sostegno|quest'anno|nel quartiere nord|nonostante la pioggia|prima delle vacanze|"
        "durante una conferenza stampa|con molta attenzione|vicino al fiume|durante l'estate|entro fine marzo|"
        "in un incontro pubblico|per le famiglie|all'ultimo momento|dopo diversi ritardi|"
        "con l'aiuto dei volontari|nel centro storico|venerdì sera|per la prossima stagione|in tempi record|"
        "nonostante le critiche",
        "cop": "è",
        "pred": "molto importante per i cittadini|piuttosto caro|sorprendentemente popolare|difficile da capire|"
        "aperto a tutti|un grande successo|ancora in discussione|migliore del previsto|troppo lento per molti|"
        "finalmente pronto|pulito e sicuro|un cambiamento positivo|difficile da trovare|utile per tutti|"
        "una buona notizia",
        "open": "Tuttavia,|Inoltre,|Nel frattempo,|Secondo i responsabili,|Di conseguenza,|Per esempio,|Alla fine,|"
        "Stranamente,|Allo stesso tempo,|Purtroppo,|Per fortuna,|L'anno scorso,|In generale,|D'altra parte,|"
        "Dopo tutto,",
        "conj": ", e|, ma|, perché|, quindi|, mentre",
        "f_subj": "mio fratello|mia moglie|il mio vecchio portatile|il mio padrone di casa|mio cugino|il nostro cane|"
        "il mio capo|mia figlia|mio marito|la mia migliore amica",
        "f_open": "Ciao a tutti, ho una domanda.|Salve, questo è il mio primo messaggio qui.|"
        "Grazie per aver letto il mio messaggio.|Spero che questa sia la sezione giusta.|"
        "Scusate se è già stato chiesto.|Leggo questo forum da molto tempo.",
        "f_close": "Grazie in anticipo per l'aiuto.|Ogni consiglio è benvenuto.|Fatemi sapere cosa ne pensate.|"
        "Vi aggiorno la prossima settimana.|Un saluto e buona giornata a tutti.|Grazie per le risposte veloci.",
        "f_q": "Qualcuno conosce|Chi ha già provato|Dove posso trovare|Qualcuno consiglia|Chi ha visto|"
        "Qualcuno ha comprato",
        "p_subj": "questa giacca|la batteria|questa macchina da caffè|la tastiera|il nuovo telefono|questo zaino|"
        "la lampada da scrivania|il frullatore|questo materasso|la fotocamera|la cassa senza fili|questo bollitore|"
        "la scarpa da corsa|la sedia da ufficio",
        "p_verb": "ha|offre|include|possiede|usa|comprende|contiene|supporta",
        "p_obj": "un manico robusto|due filtri di ricambio|una fodera lavabile|tre colori|una lunga garanzia|"
        "un design compatto|un motore silenzioso|un interno morbido|un grande schermo|un guscio impermeabile|"
        "un telaio in metallo|una custodia da viaggio|una modalità risparmio",
        "p_trail": "per l'uso quotidiano|a un prezzo giusto|per cucine piccole|per i viaggi lunghi|in ogni stagione|"
        "per lo smart working|per i principianti|per le famiglie",
        "pcop": "è",
        "p_pred": "facile da pulire|molto comodo|leggero e robusto|un ottimo acquisto|semplice da montare|"
        "perfetto per viaggiare|più silenzioso del previsto|disponibile subito|fatto con materiali riciclati|"
        "di buona qualità",
        "p_fixed": "Spedizione gratuita per ordini sopra i cinquanta euro.|I resi sono accettati entro trenta giorni.|"
        "I clienti danno a questo articolo quattro stelle su cinque.|"
        "Controlla la tabella delle taglie prima di ordinare.|"
        "Il pacco viene spedito entro due giorni lavorativi.|"
        "Il nostro servizio clienti risponde dal lunedì al venerdì.",
    },
    "pt": {
        "subj": "a prefeitura|a câmara municipal|a nossa empresa|o novo prefeito|a diretora da escola|"
        "uma pequena padaria|o hospital regional|o clube de futebol|uma jovem engenheira|a universidade|"
        "a biblioteca|o meu vizinho|a equipe de pesquisa|uma empresa familiar|a companhia ferroviária|o museu|"
        "a companhia aérea|um agricultor local|a polícia|um restaurante famoso|o serviço de meteorologia|"
        "o ministério da saúde|a companhia de energia|o zoológico|o banco|a nossa cidade|o tribunal|"
        "uma associação de moradores",
        "verb": "anunciou|aprovou|apresentou|testou|abriu|criticou|ampliou|analisou|adiou|melhorou|cancelou|apoiou|"
        "publicou|rejeitou|recebeu|consertou|construiu|vendeu|comprou|descreveu|planejou|discutiu|lançou|explicou|"
        "fechou|financiou",
        "obj": "uma nova ciclovia|o orçamento anual|um parque infantil|a ponte velha|um relatório detalhado|"
        "o horário de inverno|um exame de saúde gratuito|a piscina municipal|vários empregos novos|"
        "um plano de longo prazo|as regras de estacionamento|a festa de verão|um serviço de ônibus melhor|"
        "o mercado local|um programa de reciclagem|o cardápio da escola|um curso online|a nova estação|"
        "uma passagem mais barata|o parque da cidade|o prédio histórico|um boletim semanal|a zona do porto|"
        "uma pequena usina solar|as trilhas da serra|os semáforos|uma horta comunitária|a exposição de ciências|"
        "um projeto de habitação|as aulas noturnas|os diques do rio|uma pesquisa pública|as obras na estrada|"
        "a feira noturna|o serviço de emergência",
        "trail": "na semana passada|na segunda-feira|no centro da cidade|depois de um longo debate|pela primeira vez|"
        "sem muito apoio|este ano|na zona norte|apesar da chuva|antes das férias|numa entrevista coletiva|"
        "com muito cuidado|perto do rio|durante o verão|no final de março|numa reunião pública|para as famílias|"
        "em cima da hora|depois de vários atrasos|com ajuda de voluntários|no centro histórico|"
        "na sexta à noite|para a próxima temporada|em tempo recorde|apesar das críticas",
        "cop": "é",
        "pred": "muito importante para os moradores|bastante caro|surpreendentemente popular|difícil de entender|"
        "aberto a todos|um grande sucesso|ainda em discussão|melhor do que o esperado|lento demais|"
        "finalmente uma realidade|limpo e seguro|uma mudança bem-vinda|difícil de encontrar|útil para todos|"
        "uma boa notícia",
        "open": "No entanto,|Além disso,|Enquanto isso,|Segundo os responsáveis,|Como resultado,|Por exemplo,|"
        "No final,|Curiosamente,|Ao mesmo tempo,|Infelizmente,|Felizmente,|No ano passado,|Em geral,|"
        "Por outro lado,|Afinal,",
        "conj": ", e|, mas|, porque|, então|, enquanto",
        "f_subj": "o meu irmão|a minha esposa|o meu notebook antigo|o meu senhorio|o meu primo|o nosso cachorro|"
        "o meu chefe|a minha filha|o meu marido|a minha melhor amiga",
        "f_open": "Olá a todos, tenho uma dúvida.|Oi, esta é a minha primeira mensagem aqui.|"
        "Obrigado por lerem a minha mensagem.|Espero que este seja o fórum certo.|Desculpem se já perguntaram isso.|"
        "Acompanho este fórum há muito tempo.",
        "f_close": "Desde já agradeço a ajuda.|Qualquer dica é bem-vinda.|Digam o que vocês acham.|"
        "Na próxima semana eu conto como foi.|Abraços e um ótimo dia para todos.|Obrigado pelas respostas rápidas.",
        "f_q": "Alguém conhece|Quem já testou|Onde posso encontrar|Alguém recomenda|Quem já viu|Alguém comprou",
        "p_subj": "esta jaqueta|a bateria|esta cafeteira|o teclado|o novo celular|esta mochila|a luminária de mesa|"
        "o liquidificador|este colchão|a câmera|a caixa de som|esta chaleira|o tênis de corrida|"
        "a cadeira de escritório",
        "p_verb": "tem|oferece|inclui|traz|usa|possui|vem com|suporta",
        "p_obj": "uma alça resistente|dois filtros extras|uma capa lavável|três cores|uma garantia longa|"
        "um design compacto|um motor silencioso|um forro macio|uma tela grande|uma capa impermeável|"
        "uma estrutura de metal|um estojo de viagem|um modo econômico",
        "p_trail": "para o dia a dia|por um preço justo|para cozinhas pequenas|para viagens longas|"
        "em qualquer estação|para quem trabalha em casa|para iniciantes|para famílias",
        "pcop": "é",
        "p_pred": "fácil de limpar|muito confortável|leve e resistente|uma ótima compra|simples de instalar|"
        "perfeito para viagens|mais silencioso do que parece|muito prático|feito de materiais reciclados|"
        "de boa qualidade",
        "p_fixed": "Frete grátis para compras acima de cinquenta reais.|Aceitamos devoluções em até trinta dias.|"
        "Os clientes deram quatro estrelas a este produto.|Confira a tabela de medidas antes de comprar.|"
        "O pacote é enviado em até dois dias úteis.|O nosso atendimento funciona de segunda a sexta.",
    },
    "nl": {
        "subj": "de gemeente|de gemeenteraad|ons bedrijf|de nieuwe burgemeester|de schooldirecteur|een kleine bakkerij|"
        "het ziekenhuis|de voetbalclub|een jonge ingenieur|de universiteit|de bibliotheek|mijn buurman|"
        "het onderzoeksteam|een familiebedrijf|de spoorwegen|het museum|de luchtvaartmaatschappij|"
        "een boer uit de regio|de politie|een populair restaurant|het weerbureau|het ministerie|"
        "het energiebedrijf|de dierentuin|de bank|ons dorp|de rechtbank|een buurtvereniging",
        "verb": "plant|bekritiseert|opent|test|presenteert|bezoekt|onderzoekt|verbetert|steunt|publiceert|verwelkomt|"
        "repareert|bouwt|verkoopt|koopt|beschrijft|bespreekt|verklaart|sluit|financiert|zoekt|toont|organiseert|"
        "betaalt|verandert|vernieuwt",
        "obj": "een nieuw fietspad|de jaarlijkse begroting|een moderne speeltuin|de oude brug|een uitgebreid rapport|"
        "de winterdienstregeling|een gratis gezondheidscheck|het zwembad|nieuwe banen|een plan voor later|"
        "de parkeerregels|het zomerfeest|een betere busdienst|de lokale markt|een nieuw recyclingprogramma|"
        "de schoollunch|een online cursus|het nieuwe station|goedkopere kaartjes|het stadspark|het oude stadhuis|"
        "een wekelijkse nieuwsbrief|het havengebied|een klein zonnepark|de wandelpaden|de verkeerslichten|"
        "een buurtmoestuin|de tentoonstelling|een woningbouwproject|de avondlessen|de dijken|"
        "een openbare enquête|de wegwerkzaamheden|de nachtmarkt|de ambulancedienst",
        "trail": "vorige week|op maandag|in het centrum|na een lang debat|voor het eerst|zonder veel steun|dit jaar|"
        "in de noordelijke wijk|ondanks de regen|voor de vakantie|tijdens een persconferentie|met veel zorg|"
        "bij de rivier|in de zomer|eind maart|tijdens een bijeenkomst|voor jonge gezinnen|op korte termijn|"
        "na meerdere vertragingen|met hulp van vrijwilligers|in de oude binnenstad|op vrijdagavond|"
        "voor het volgende seizoen|in recordtijd|ondanks felle kritiek",
        "cop": "is",
        "pred": "erg belangrijk voor bewoners|vrij duur|verrassend populair|moeilijk te begrijpen|open voor iedereen|"
        "een groot succes|nog niet beslist|beter dan verwacht|te traag voor velen|eindelijk klaar|schoon en veilig|"
        "een welkome verandering|moeilijk te vinden|nuttig voor iedereen|goed nieuws",
        "open": "Bovendien|Toch|Daarom|Inmiddels|Vandaag|Gelukkig|Helaas|Echter|Tegelijkertijd|Vorig jaar|"
        "Over het algemeen|Uiteindelijk|Verrassend genoeg|Desondanks|Eerst",
        "conj": ", en|, maar|, want",
        "f_subj": "mijn broer|mijn vrouw|mijn oude laptop|mijn huisbaas|mijn neef|onze hond|mijn baas|mijn dochter|"
        "mijn man|mijn beste vriendin",
        "f_open": "Hallo allemaal, ik heb een vraag.|Hoi, dit is mijn eerste bericht hier.|"
        "Bedankt voor het lezen van mijn bericht.|Ik hoop dat dit het juiste forum is.|"
        "Sorry als dit al eerder gevraagd is.|Ik lees hier al heel lang mee.",
        "f_close": "Alvast bedankt voor jullie hulp.|Elk advies is welkom.|Laat maar weten wat jullie ervan vinden.|"
        "Volgende week laat ik weten hoe het ging.|Groetjes en een fijne dag.|Bedankt voor de snelle reacties.",
        "f_q": "Kent iemand|Wie heeft ervaring met|Waar vind ik|Wie raadt|Heeft iemand al|Wie kent",
        "p_subj": "deze jas|de accu|dit koffiezetapparaat|het toetsenbord|de nieuwe telefoon|deze rugzak|"
        "de bureaulamp|de blender|dit matras|de camera|de draadloze speaker|deze waterkoker|de hardloopschoen|"
        "de bureaustoel",
        "p_verb": "heeft|biedt|bevat|gebruikt|ondersteunt|levert|krijgt|toont",
        "p_obj": "een stevig handvat|twee extra filters|een wasbare hoes|drie kleuren|een lange garantie|"
        "een compact ontwerp|een stille motor|een zachte voering|een groot scherm|een waterdichte behuizing|"
        "een metalen frame|een reistas|een zuinige stand",
        "p_trail": "voor dagelijks gebruik|voor een eerlijke prijs|voor kleine keukens|voor lange reizen|"
        "in elk seizoen|voor thuiswerkers|voor beginners|voor gezinnen",
        "pcop": "is",
        "p_pred": "makkelijk schoon te maken|erg comfortabel|licht en stevig|zijn geld waard|eenvoudig te installeren|"
        "perfect voor op reis|stiller dan verwacht|direct leverbaar|gemaakt van gerecycled materiaal|"
        "van goede kwaliteit",
        "p_fixed": "Gratis verzending bij bestellingen boven vijftig euro.|Retourneren kan binnen dertig dagen.|"
        "Klanten geven dit product vier van de vijf sterren.|Bekijk de maattabel voordat u bestelt.|"
        "Het pakket wordt binnen twee werkdagen verzonden.|Onze klantenservice helpt u op alle werkdagen.",
    },
    "ru": {
        "subj": "городская администрация|городской совет|наша компания|новый мэр|директор школы|небольшая пекарня|"
        "областная больница|футбольный клуб|молодой инженер|университет|городская библиотека|мой сосед|"
        "исследовательская группа|семейная фирма|железная дорога|музей|авиакомпания|местный фермер|полиция|"
        "популярный ресторан|метеослужба|министерство здравоохранения|энергетическая компания|зоопарк|банк|"
        "наш посёлок|районный суд|местный фонд",
        "verb": "объявляет|утверждает|представляет|тестирует|открывает|критикует|расширяет|проверяет|откладывает|"
        "улучшает|отменяет|поддерживает|публикует|отклоняет|ремонтирует|строит|продаёт|покупает|описывает|"
        "планирует|обсуждает|запускает|объясняет|закрывает|финансирует|организует",
        "obj": "новую велодорожку|годовой бюджет|современную детскую площадку|старый мост|подробный отчёт|"
        "зимнее расписание|бесплатный медосмотр|городской бассейн|новые рабочие места|долгосрочный план|"
        "правила парковки|летний фестиваль|новый автобусный маршрут|местный рынок|программу переработки|"
        "школьное меню|онлайн курс|новый вокзал|дешёвые билеты|городской парк|историческое здание|"
        "еженедельную рассылку|портовый район|небольшую солнечную станцию|пешеходные маршруты|светофоры|"
        "общественный огород|научную выставку|жилой комплекс|вечерние курсы|защиту от наводнений|"
        "общественный опрос|ремонт дорог|ночной рынок|службу скорой помощи",
        "trail": "на прошлой неделе|в понедельник|в центре города|после долгих споров|впервые|без особой поддержки|"
        "в этом году|в северном районе|несмотря на дождь|перед праздниками|на пресс-конференции|"
        "с большой осторожностью|недалеко от реки|летом|к концу марта|на открытом собрании|для молодых семей|"
        "в последний момент|после нескольких задержек|с помощью волонтёров|в старом городе|в пятницу вечером|"
        "к следующему сезону|в рекордные сроки|несмотря на критику",
        "cop": "— это",
        "pred": "очень важно для жителей|довольно дорого|удивительно популярно|сложно понять|открыто для всех|"
        "большой успех|всё ещё обсуждается|лучше, чем ожидалось|слишком медленно|наконец готово|"
        "чисто и безопасно|долгожданные перемены|трудно найти|полезно для всех|хорошая новость",
        "open": "Однако,|Кроме того,|Тем временем|По словам чиновников,|В результате|Например,|В конце концов,|"
        "Удивительно, но|В то же время|К сожалению,|К счастью,|В прошлом году|В целом,|С другой стороны,|"
        "Тем не менее,",
        "conj": ", и|, но|, потому что|, поэтому|, а",
        "f_subj": "мой брат|моя жена|мой старый ноутбук|мой арендодатель|мой двоюродный брат|наша собака|"
        "мой начальник|моя дочь|мой муж|моя лучшая подруга",
        "f_open": "Всем привет, у меня есть вопрос.|Здравствуйте, это мой первый пост здесь.|"
        "Спасибо, что читаете мой пост.|Надеюсь, я пишу в правильный раздел.|"
        "Извините, если об этом уже спрашивали.|Давно читаю этот форум.",
        "f_close": "Заранее спасибо за помощь.|Буду рад любому совету.|Напишите, что вы думаете.|"
        "На следующей неделе расскажу, чем всё закончилось.|Всем хорошего дня.|Спасибо за быстрые ответы.",
        "f_q": "Кто-нибудь знает про|Кто пробовал|Где можно найти|Кто посоветует|Кто видел|Кто-нибудь покупал",
        "p_subj": "эта куртка|аккумулятор|эта кофемашина|клавиатура|новый телефон|этот рюкзак|настольная лампа|"
        "блендер|этот матрас|камера|беспроводная колонка|этот чайник|беговая кроссовка|офисное кресло",
        "p_verb": "имеет|предлагает|включает|получает|использует|поддерживает|содержит|показывает",
        "p_obj": "прочную ручку|два запасных фильтра|съёмный чехол|три цвета|длительную гарантию|компактный дизайн|"
        "тихий мотор|мягкую подкладку|большой экран|водонепроницаемый корпус|металлическую раму|дорожный чехол|"
        "экономичный режим",
        "p_trail": "для каждого дня|по честной цене|для маленьких кухонь|для долгих поездок|в любое время года|"
        "для работы из дома|для начинающих|для всей семьи",
        "pcop": "—",
        "p_pred": "отличная покупка|очень удобная вещь|лёгкая и прочная модель|хороший выбор|"
        "простая в настройке вещь|идеальный вариант для поездок|тихая модель|товар в наличии|"
        "изделие из переработанных материалов|качественная вещь",
        "p_fixed": "Бесплатная доставка при заказе от трёх тысяч рублей.|Возврат возможен в течение тридцати дней.|"
        "Покупатели оценили этот товар на четыре звезды из пяти.|Перед заказом проверьте таблицу размеров.|"
        "Посылка отправляется в течение двух рабочих дней.|Наша служба поддержки работает по будням.",
    },
    "zh": {
        "subj": "市政府|市议会|我们公司|新市长|学校校长|一家小面包店|地区医院|足球俱乐部|一位年轻工程师|这所大学|"
        "市图书馆|"
        "我的邻居|研究团队|一家家族企业|铁路公司|博物馆|航空公司|当地农民|警察局|一家有名的餐厅|气象局|卫生部|电力公司|"
        "动物园|银行|我们村|地方法院|一家慈善机构",
        "verb": "宣布了|批准了|推出了|测试了|开放了|批评了|展示了|扩建了|审查了|推迟了|改善了|取消了|支持了|发布了|"
        "拒绝了|欢迎了|修理了|建造了|出售了|购买了|介绍了|计划了|讨论了|启动了|解释了|资助了",
        "obj": "新的自行车道|年度预算|现代化的游乐场|那座老桥|一份详细的报告|冬季时刻表|免费体检|市立游泳池|"
        "许多新的工作岗位|长期计划|停车规定|夏季节日|更好的公交服务|本地市场|新的回收项目|学校午餐菜单|一门网络课程|"
        "新的火车站|更便宜的车票|城市公园|历史悠久的市政厅|每周通讯|港口地区|一座小型太阳能电站|徒步路线|交通信号灯|"
        "社区菜园|科学展览|新的住房项目|夜间课程|防洪设施|一项公众调查|道路维修工程|夜市|急救服务",
        "trail": "上周|周一|在市中心|经过长时间的讨论|第一次|在没有太多支持的情况下|今年|在北区|尽管下着雨|在假期之前|"
        "在新闻发布会上|非常谨慎地|在河边|在夏天|在三月底之前|在公开会议上|为了年轻家庭|在最后一刻|经过多次延误|"
        "在志愿者的帮助下|在老城区|周五晚上|为了下个季度|以创纪录的速度|尽管受到批评",
        "pred": "对居民来说非常重要|相当昂贵|出乎意料地受欢迎|很难理解|对所有人开放|是一个巨大的成功|仍在讨论中|"
        "比预期的更好|对很多人来说太慢了|终于完成了|干净又安全|是一个受欢迎的变化|很难找到|对大家都有用|是个好消息",
        "open": "但是|此外|与此同时|据官员介绍|因此|例如|最后|令人惊讶的是|同时|不幸的是|幸运的是|去年|总的来说|"
        "另一方面|毕竟",
        "conj": "而且|但是|因为|所以|同时",
        "f_subj": "我哥哥|我妻子|我的旧电脑|我的房东|我表弟|我们家的狗|我的老板|我女儿|我丈夫|我最好的朋友",
        "f_open": "大家好，我有一个问题。|你好，这是我在这里的第一个帖子。|谢谢大家阅读我的帖子。|希望我发对了版块。|"
        "如果有人问过了，请见谅。|我在这个论坛潜水很久了。",
        "f_close": "先谢谢大家的帮助。|欢迎任何建议。|请告诉我你们的想法。|下周我会更新情况。|祝大家今天愉快。|"
        "谢谢大家这么快回复。",
        "f_q": "有人知道|有人试过|有人推荐过|有人见过|有人买过|大家了解",
        "p_subj": "这件夹克|这块电池|这台咖啡机|这个键盘|这款新手机|这个背包|这盏台灯|这台搅拌机|这张床垫|这台相机|"
        "这个无线音箱|这个水壶|这双跑鞋|这把办公椅",
        "p_verb": "有|提供|包括|配有|采用|支持|带有|附带",
        "p_obj": "结实的把手|两个备用滤网|可水洗的外套|三种颜色|很长的保修期|紧凑的设计|安静的电机|柔软的内衬|大屏幕|"
        "防水外壳|金属框架|旅行收纳袋|节能模式",
        "p_trail": "适合日常使用|价格公道|适合小厨房|适合长途旅行|四季都能用|适合在家办公|适合新手|适合全家人",
        "p_pred": "很容易清洗|非常舒适|又轻又结实|物有所值|安装很简单|非常适合旅行|比预期的安静|现在有货|"
        "由回收材料制成|质量很好",
        "p_fixed": "订单满二百元免运费。|三十天内可以退货。|顾客给这件商品打了四星。|下单前请查看尺码表。|"
        "包裹会在两个工作日内发出。|我们的客服周一到周五在线。",
    },
    "ja": {
        "subj": "市役所|市議会|私たちの会社|新しい市長|学校の校長|小さなパン屋|地域の病院|サッカークラブ|"
        "若いエンジニア|"
        "その大学|市立図書館|隣の人|研究チーム|家族経営の会社|鉄道会社|博物館|航空会社|地元の農家|警察|"
        "人気のレストラン|気象台|厚生労働省|電力会社|動物園|銀行|私たちの村|地方裁判所|地元の団体",
        "verb": "発表しました|承認しました|導入しました|試験しました|開設しました|批判しました|公開しました|"
        "拡張しました|"
        "見直しました|延期しました|改善しました|中止しました|支援しました|発行しました|却下しました|歓迎しました|"
        "修理しました|建設しました|販売しました|購入しました|紹介しました|計画しました|議論しました|開始しました|"
        "説明しました|支援しています",
        "obj": "新しい自転車道|年間予算|新しい遊び場|古い橋|詳しい報告書|冬のダイヤ|無料の健康診断|市民プール|"
        "新しい仕事|長期的な計画|駐車のルール|夏祭り|便利なバス路線|地元の市場|リサイクルの取り組み|給食のメニュー|"
        "オンライン講座|新しい駅|安い切符|市民公園|歴史的な市庁舎|週刊のお知らせ|港の周辺|小さな太陽光発電所|"
        "ハイキングコース|信号機|地域の菜園|科学の展示会|新しい住宅計画|夜間の講座|洪水対策|市民アンケート|"
        "道路の工事|夜市|救急サービス",
        "trail": "先週|月曜日に|市の中心部で|長い議論の末に|初めて|あまり支持のないまま|今年|北部の地区で|"
        "雨にもかかわらず|休みの前に|記者会見で|慎重に|川の近くで|夏の間に|三月末までに|公開の会議で|"
        "若い家族のために|直前になって|何度も遅れた後で|ボランティアの協力で|旧市街で|金曜日の夜に|来シーズンに向けて|"
        "記録的な速さで|批判にもかかわらず",
        "pred": "住民にとってとても大切です|かなり高いです|意外に人気があります|分かりにくいです|誰でも利用できます|"
        "大成功でした|まだ検討中です|予想よりも良かったです|多くの人には遅すぎます|ついに完成しました|清潔で安全です|"
        "うれしい変化です|見つけにくいです|みんなの役に立ちます|良いニュースです",
        "open": "しかし|さらに|その間|担当者によると|その結果|たとえば|最終的に|意外なことに|同時に|残念ながら|"
        "幸いなことに|昨年|一般的に|一方で|結局",
        "conj": "が、|ので、|し、",
        "f_subj": "兄|妻|古いパソコン|大家さん|いとこ|うちの犬|上司|娘|夫|親友",
        "f_open": "皆さん、こんにちは。質問があります。|はじめまして、ここに初めて投稿します。|"
        "読んでいただきありがとうございます。|"
        "この掲示板で合っているといいのですが。|既出でしたらすみません。|この掲示板はずっと読んでいました。",
        "f_close": "よろしくお願いします。|どんなアドバイスでも歓迎です。|皆さんの意見を教えてください。|"
        "来週また報告します。|"
        "皆さん、良い一日を。|早速の返信ありがとうございます。",
        "f_q": "について知っている人はいますか|を試した人はいますか|はどこで見つかりますか|"
        "をおすすめできる人はいますか|"
        "を見た人はいますか|を買った人はいますか",
        "p_subj": "このジャケット|このバッテリー|このコーヒーメーカー|このキーボード|新しいスマートフォン|このリュック|"
        "デスクライト|このミキサー|このマットレス|このカメラ|ワイヤレススピーカー|この電気ケトル|ランニングシューズ|"
        "オフィスチェア",
        "p_verb": "付いています|あります|含まれています|備わっています|採用されています|用意されています",
        "p_obj": "丈夫な持ち手|予備のフィルター|洗えるカバー|三色のカラー|長い保証期間|コンパクトなデザイン|"
        "静かなモーター|"
        "柔らかい裏地|大きな画面|防水のケース|金属のフレーム|旅行用のケース|省エネモード",
        "p_trail": "毎日使うのに便利です|手頃な価格です|小さなキッチンに最適です|長旅にぴったりです|一年中使えます|"
        "在宅勤務に向いています|初心者にもおすすめです|家族みんなで使えます",
        "p_pred": "お手入れが簡単です|とても快適です|軽くて丈夫です|値段の価値があります|設定が簡単です|旅行に最適です|"
        "思ったより静かです|在庫があります|再生素材で作られています|品質が良いです",
        "p_fixed": "五千円以上のご注文で送料無料です。|三十日以内なら返品できます。|この商品の評価は星四つです。|"
        "ご注文の前にサイズ表をご確認ください。|商品は二営業日以内に発送されます。|カスタマーサポートは平日に対応しています。",
    },
}

# Sentence patterns. A name that is a lexicon slot is drawn at random; anything else is a literal.
_SVO_ARTICLE = (
    ("subj", "verb", "obj", "trail"),
    ("open", "subj", "verb", "obj"),
    ("subj", "verb", "obj", "conj", "subj", "verb", "obj"),
    ("subj", "cop", "pred"),
    ("open", "subj", "cop", "pred"),
    ("subj", "verb", "obj"),
    ("trail", ",", "subj", "verb", "obj"),
    ("subj", "verb", "obj", "trail", "conj", "subj", "cop", "pred"),
)
_SVO_PRODUCT = (
    ("p_subj", "p_verb", "p_obj", "p_trail"),
    ("p_subj", "pcop", "p_pred"),
    ("open", "p_subj", "pcop", "p_pred"),
    ("p_subj", "p_verb", "p_obj"),
    ("p_subj", "pcop", "p_pred", "conj", "p_subj", "p_verb", "p_obj"),
)
# German and Dutch put the verb second after a fronted adverbial.
_V2_ARTICLE = (
    ("subj", "verb", "obj", "trail"),
    ("open", "verb", "subj", "obj"),
    ("subj", "verb", "obj", "conj", "subj", "verb", "obj"),
    ("subj", "cop", "pred"),
    ("open", "cop", "subj", "pred"),
    ("subj", "verb", "obj"),
    ("trail", "verb", "subj", "obj"),
    ("subj", "verb", "obj", "trail", "conj", "subj", "cop", "pred"),
)
_V2_PRODUCT = (
    ("p_subj", "p_verb", "p_obj", "p_trail"),
    ("p_subj", "pcop", "p_pred"),
    ("open", "pcop", "p_subj", "p_pred"),
    ("p_subj", "p_verb", "p_obj"),
)
_ZH_ARTICLE = (
    ("subj", "trail", "verb", "obj"),
    ("open", "，", "subj", "verb", "obj"),
    ("subj", "verb", "obj", "，", "conj", "subj", "verb", "obj"),
    ("subj", "pred"),
    ("open", "，", "subj", "pred"),
    ("trail", "，", "subj", "verb", "obj"),
    ("subj", "verb", "obj"),
)
_ZH_PRODUCT = (
    ("p_subj", "p_verb", "p_obj", "，", "p_trail"),
    ("p_subj", "p_pred"),
    ("open", "，", "p_subj", "p_pred"),
    ("p_subj", "p_verb", "p_obj"),
)
_JA_ARTICLE = (
    ("subj", "は", "trail", "、", "obj", "を", "verb"),
    ("open", "、", "subj", "は", "obj", "を", "verb"),
    ("subj", "は", "obj", "を", "verb", "conj", "subj", "は", "obj", "を", "verb"),
    ("subj", "は", "pred"),
    ("open", "、", "subj", "は", "pred"),
    ("trail", "、", "subj", "は", "obj", "を", "verb"),
    ("subj", "は", "obj", "を", "verb"),
)
_JA_PRODUCT = (
    ("p_subj", "には", "p_obj", "が", "p_verb"),
    ("p_subj", "は", "p_pred"),
    ("p_subj", "は", "p_trail"),
    ("open", "、", "p_subj", "は", "p_pred"),
)
_FAMILIES = {
    "svo": (_SVO_ARTICLE, _SVO_PRODUCT, ("f_q", "obj")),
    "v2": (_V2_ARTICLE, _V2_PRODUCT, ("f_q", "obj")),
    "zh": (_ZH_ARTICLE, _ZH_PRODUCT, ("f_q", "obj", "吗")),
    "ja": (_JA_ARTICLE, _JA_PRODUCT, ("obj", "f_q")),
}
_LANG_FAMILY = {"en": "svo", "fr": "svo", "es": "svo", "it": "svo", "pt": "svo", "ru": "svo", "de": "v2", "nl": "v2",
                "zh": "zh", "ja": "ja"}

_DOMAINS = {
    "en": "dailyherald-news.com|cityweekly.org|homeowners-forum.net|shopright-store.com|riverside-gazette.com|"
    "parentsboard.net|outdoor-gear-shop.com|metro-times.co.uk",
    "de": "stadtanzeiger.de|forum-technik.de|einkaufswelt.de|nachrichten-nord.de",
    "fr": "journal-local.fr|forum-maison.fr|boutique-express.fr|actu-region.fr",
    "es": "diario-local.es|foro-hogar.es|tienda-online.es|noticias-sur.es",
    "it": "giornale-citta.it|forum-casa.it|negozio-facile.it|notizie-nord.it",
    "pt": "jornal-da-cidade.com.br|forum-casa.com.br|loja-facil.com.br|noticias-norte.pt",
    "nl": "stadskrant.nl|forum-wonen.nl|webwinkel-direct.nl|nieuws-noord.nl",
    "ru": "gorod-novosti.ru|forum-dom.ru|magazin-online.ru|vesti-region.ru",
    "zh": "chengshi-xinwen.cn|jiating-luntan.cn|gouwu-wang.cn|difang-bao.cn",
    "ja": "machi-news.jp|kurashi-forum.jp|shop-net.jp|chiiki-shimbun.jp",
}
_FORUM_DOMAIN_RE = re.compile(r"forum|board|luntan")
_SHOP_DOMAIN_RE = re.compile(r"shop|store|boutique|tienda|negozio|loja|webwinkel|magazin|gouwu|einkauf")
_URL_SECTION = {"article": "news", "forum": "forum/thread", "product": "product", "junk": "page"}

# --------------------------------------------------------------------------------------------------
# Personal data: fake but realistic values. Names are common given names and surnames; numbers are
# random with valid check digits (Luhn for cards, ISO 13616 mod-97 for IBANs, SSA rules for SSNs).
# --------------------------------------------------------------------------------------------------
_FIRST_NAMES = {
    "en": "James|Mary|Robert|Patricia|Michael|Jennifer|David|Linda|William|Elizabeth|Daniel|Sarah|Thomas|Karen|"
    "Anthony|Nancy|Kevin|Emily|Brian|Megan|Priya|Wei|Carlos|Aisha|Omar|Grace|Ethan|Olivia|Lucas|Chloe",
    "de": "Jonas|Lena|Lukas|Anna|Felix|Laura|Maximilian|Julia|Tobias|Sophie|Florian|Katharina|Stefan|Sabine|Jürgen|"
    "Petra|Moritz|Hannah|Matthias|Franziska",
    "fr": "Julien|Camille|Nicolas|Manon|Antoine|Chloé|Mathieu|Léa|Guillaume|Sophie|Thomas|Élodie|Pierre|Claire|"
    "Romain|Amélie|Sébastien|Inès|Hugo|Margaux",
    "es": "Javier|Lucía|Alejandro|María|Pablo|Carmen|Sergio|Laura|Diego|Elena|Álvaro|Marta|Jorge|Paula|Raúl|"
    "Cristina|Andrés|Sofía|Miguel|Beatriz",
}
_LAST_NAMES = {
    "en": "Smith|Johnson|Williams|Brown|Jones|Miller|Davis|Wilson|Anderson|Taylor|Thomas|Moore|Martin|Jackson|"
    "Thompson|White|Harris|Clark|Lewis|Walker|Patel|Nguyen|Garcia|Kim|Okafor|Hughes|Bennett|Foster|Murphy|Reed",
    "de": "Müller|Schmidt|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Schulz|Hoffmann|Koch|Richter|Klein|Wolf|"
    "Schröder|Neumann|Schwarz|Zimmermann|Braun|Krüger",
    "fr": "Martin|Bernard|Dubois|Thomas|Robert|Richard|Petit|Durand|Leroy|Moreau|Simon|Laurent|Lefebvre|Michel|"
    "Garnier|Fontaine|Rousseau|Blanc|Guérin|Chevalier",
    "es": "García|Fernández|González|Rodríguez|López|Martínez|Sánchez|Pérez|Gómez|Martín|Jiménez|Ruiz|Hernández|"
    "Díaz|Moreno|Álvarez|Romero|Navarro|Torres|Domínguez",
}
_EMAIL_DOMAINS = {
    "en": "gmail.com|outlook.com|yahoo.com|hotmail.com|icloud.com|riverside-gazette.com|acme-logistics.com",
    "de": "gmx.de|web.de|t-online.de|posteo.de|gmail.com",
    "fr": "orange.fr|free.fr|laposte.net|gmail.com|sfr.fr",
    "es": "gmail.com|hotmail.es|telefonica.net|yahoo.es|outlook.es",
}
_US_AREA_CODES = (212, 213, 305, 312, 404, 415, 503, 512, 602, 617, 646, 702, 713, 720, 786, 808, 917, 971)
_PII_TEMPLATES = {
    "en": (
        "For questions about the order, please contact {PERSON} at {EMAIL_ADDRESS} or call {PHONE_NUMBER} "
        "during office hours.",
        "The customer paid with the card number {CREDIT_CARD} and asked for a printed receipt.",
        "Our logs show that the login came from the address {IP_ADDRESS} late at night.",
        "The form listed the social security number {US_SSN} next to the signature.",
        "Please transfer the deposit to the account {IBAN_CODE} within ten days.",
        "The report was written by {PERSON}, who can be reached at {PHONE_NUMBER} on weekdays.",
        "You can also send your application to {EMAIL_ADDRESS} before the end of the month.",
        "My name is {PERSON} and my phone number is {PHONE_NUMBER}, so feel free to call me.",
        "Refunds are sent to the bank account {IBAN_CODE} in the name of {PERSON} as agreed.",
        "If the card {CREDIT_CARD} is declined, write to {EMAIL_ADDRESS} for help.",
    ),
    "de": (
        "Bei Fragen zur Bestellung wenden Sie sich bitte an {PERSON} unter {EMAIL_ADDRESS} oder rufen Sie "
        "{PHONE_NUMBER} an.",
        "Der Kunde hat mit der Kartennummer {CREDIT_CARD} bezahlt und eine Quittung verlangt.",
        "Laut Protokoll kam die Anmeldung spät in der Nacht von der Adresse {IP_ADDRESS} aus dem Ausland.",
        "Auf dem Formular stand die Sozialversicherungsnummer {US_SSN} direkt neben der Unterschrift.",
        "Bitte überweisen Sie die Kaution innerhalb von zehn Tagen auf das Konto {IBAN_CODE} bei unserer Bank.",
        "Der Bericht wurde von {PERSON} geschrieben, die unter {PHONE_NUMBER} erreichbar ist.",
        "Ich heiße {PERSON} und meine Telefonnummer ist {PHONE_NUMBER}, ruft mich gerne an.",
    ),
    "fr": (
        "Pour toute question sur la commande, contactez {PERSON} à l'adresse {EMAIL_ADDRESS} ou au "
        "{PHONE_NUMBER} pendant les heures de bureau.",
        "Le client a payé avec la carte numéro {CREDIT_CARD} et a demandé un reçu.",
        "D'après les journaux, la connexion venait de l'adresse {IP_ADDRESS} tard dans la nuit.",
        "Le formulaire indiquait le numéro de sécurité sociale américain {US_SSN} à côté de la signature.",
        "Merci de virer la caution sur le compte {IBAN_CODE} dans un délai de dix jours.",
        "Le rapport a été rédigé par {PERSON}, joignable au {PHONE_NUMBER} en semaine.",
        "Je m'appelle {PERSON} et mon numéro est le {PHONE_NUMBER}, n'hésitez pas à m'appeler.",
    ),
    "es": (
        "Para cualquier duda sobre el pedido, contacte con {PERSON} en {EMAIL_ADDRESS} o llame al {PHONE_NUMBER} "
        "en horario de oficina.",
        "El cliente pagó con la tarjeta número {CREDIT_CARD} y pidió un recibo.",
        "Según los registros, el acceso vino de la dirección {IP_ADDRESS} a altas horas de la noche.",
        "El formulario mostraba el número de seguro social {US_SSN} junto a la firma.",
        "Por favor, transfiera la fianza a la cuenta {IBAN_CODE} en un plazo de diez días.",
        "El informe lo escribió {PERSON}, que atiende en el {PHONE_NUMBER} por las mañanas.",
        "Me llamo {PERSON} y mi teléfono es el {PHONE_NUMBER}, llámenme cuando quieran.",
    ),
}
_PII_LANG_WEIGHTS = {"en": 0.7, "de": 0.1, "fr": 0.1, "es": 0.1}
_PLACEHOLDER_RE = re.compile(r"\{([A-Z_]+)\}")

# --------------------------------------------------------------------------------------------------
# Junk and boilerplate
# --------------------------------------------------------------------------------------------------
_COOKIE_LINES = (
    "We use cookies to improve your experience on our website.",
    "By continuing to browse this site, you agree to our use of cookies.",
    "Read our Privacy Policy and Cookie Policy to learn more.",
    "Accept all cookies",
    "Reject non-essential cookies",
    "Manage cookie preferences",
    "This website uses cookies and similar technologies to personalize content and ads.",
    "Some cookies are necessary for the site to work and cannot be switched off.",
    "Your privacy matters to us.",
    "Terms of Use | Privacy Policy | Cookie Settings | Imprint",
    "We and our partners store and access information on your device.",
    "You can change your choices at any time in the privacy center.",
)
_LOREM_WORDS = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore "
    "magna aliqua enim ad minim veniam quis nostrud exercitation ullamco laboris nisi aliquip ex ea commodo "
    "consequat duis aute irure in reprehenderit voluptate velit esse cillum eu fugiat nulla pariatur excepteur "
    "sint occaecat cupidatat non proident sunt culpa qui officia deserunt mollit anim id est laborum"
).split()
_JS_LINES = (
    "Please enable JavaScript to view this page.",
    "You need to enable JavaScript to run this app.",
    "JavaScript is disabled in your browser.",
    "For the best experience, please turn on JavaScript and reload the page.",
    "This site requires JavaScript to work properly.",
    "Loading...",
    "Please wait while the page loads.",
    "Your browser does not support JavaScript or it has been turned off.",
)
_NAV_LINES = (
    "Home | News | Sports | Business | Culture | Contact",
    "Skip to main content",
    "Menu",
    "Search",
    "Log in",
    "Sign up",
    "My account",
    "Cart (0)",
    "Previous | Next",
    "Back to top",
    "About us",
    "Careers",
    "Sitemap",
    "Follow us on Facebook Twitter Instagram",
    "Home > Products > Kitchen",
    "Newsletter",
    "Help Center",
    "Store locator",
)
_SYMBOL_LINES = ("*** *** *** ***", "#####", "-~-~-~-~-~-~", ">>> >>> >>>", "|||||||||", "+ + + + + +",
                 "••••••••", "<<<<>>>>", "/// /// ///", "%%% $$$ &&&", "^^^^^^^^")
_REPETITIVE_LINES = (
    "Buy cheap watches online at the best price today!",
    "Click here to win a free phone now!",
    "Best deals on sneakers, limited offer!",
    "Hot singles in your area, sign up now!",
    "Cheap flights, cheap hotels, cheap cars!",
)
_SHORT_DOCS = ("Page not found.", "Click here to continue.", "Thanks for your order!", "Coming soon.",
               "Access denied.", "Under construction.", "Subscribe now!", "Error 404: this page does not exist.",
               "Session expired, please log in again.", "No results.")
_CODE_PROSE = (
    "Add the following snippet to your page template to enable the menu.",
    "Here is the script I use on my site, maybe it helps someone.",
    "The style sheet below fixes the layout on small screens.",
    "Paste this configuration into the settings file and restart the server.",
)
_CODE_SNIPPETS = (
    "function toggleMenu() {\n  var nav = document.getElementById('nav');\n  nav.classList.toggle('open');\n}",
    ".header { color: #333; margin: 0 auto; }\n.footer { display: none; }",
    "{\n  \"debug\": true,\n  \"port\": 8080,\n  \"hosts\": [\"alpha\", \"beta\"]\n}",
    "for (int i = 0; i < n; i++) {\n  sum += values[i];\n}",
    "if (window.innerWidth < 600) {\n  document.body.className = 'mobile';\n}",
    "$(document).ready(function() { $('.slider').show(); });",
)
_BOILERPLATE_TOP = ("Home | News | Sports | Business | Contact", "Skip to main content", "Menu | Search | Log in")
_BOILERPLATE_BOTTOM = (
    "Share this article: Facebook Twitter Email",
    "We use cookies to improve your experience. Accept all cookies",
    "Copyright 2024. All rights reserved. Privacy Policy | Terms of Use",
    "Related articles",
    "Back to top",
)


# --------------------------------------------------------------------------------------------------
# Reference similarity
# --------------------------------------------------------------------------------------------------
def shingles(text: str, n: int = SHINGLE_N) -> set[tuple[str, ...]]:
    """Word n-gram set of ``text`` under the reference shingling.

    Args:
        text: Any text.
        n: Shingle length in tokens.

    Returns:
        The set of n-token tuples of the lowercased ``\\w+`` tokens. A text with 1..n-1 tokens has a
        single shingle (all its tokens); a text without tokens has none.
    """
    if n < 1:
        raise ValueError(f"shingle length n must be >= 1, got {n}")
    tokens = TOKEN_RE.findall(text.lower())
    if not tokens:
        return set()
    if len(tokens) < n:
        return {tuple(tokens)}
    return set(zip(*(tokens[i:] for i in range(n))))


def true_jaccard(a: str, b: str, n: int = SHINGLE_N) -> float:
    """Exact Jaccard similarity of two texts under the reference shingling (see :func:`shingles`).

    Args:
        a: First text.
        b: Second text.
        n: Shingle length in tokens (5 in the manifest).

    Returns:
        ``|S(a) & S(b)| / |S(a) | S(b)|``; 1.0 when neither text has a token.
    """
    sa, sb = shingles(a, n), shingles(b, n)
    union = len(sa | sb)
    if union == 0:
        return 1.0
    return len(sa & sb) / union


def luhn_valid(number: str) -> bool:
    """Whether the digits of ``number`` (separators ignored) pass the Luhn checksum."""
    from pipelines.text.pii_residual import luhn_ok

    digits = "".join(c for c in number if c.isascii() and c.isdigit())
    return len(digits) >= 2 and luhn_ok(digits)


def iban_valid(iban: str) -> bool:
    """Whether ``iban`` (spaces ignored) passes the ISO 13616 mod-97 check."""
    compact = iban.replace(" ", "").upper()
    if len(compact) < 5 or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# --------------------------------------------------------------------------------------------------
# Sentence and document synthesis
# --------------------------------------------------------------------------------------------------
def _split(spec: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in spec.split("|") if part.strip())


def _ascii_fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


#: Strides coprime with each list length: stepping by one visits every option once per cycle.
_STRIDES = {size: [s for s in range(1, size) if math.gcd(s, size) == 1] or [1] for size in range(1, 256)}


class _Language:
    """Word lists and compiled sentence patterns of one language."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.family = _LANG_FAMILY[code]
        self.spaced = self.family in ("svo", "v2")
        self.end = "." if self.spaced else "。"
        self.qend = "?" if self.spaced else "？"
        self.sentence_sep = " " if self.spaced else ""
        self.slots = {name: _split(spec) for name, spec in _LEXICON[code].items()}
        article, product, question = _FAMILIES[self.family]
        if code == "ru":
            # Russian does not set off a fronted time phrase with a comma.
            article = tuple(tuple(x for x in p if x != ",") for p in article)
        forum = article + tuple(tuple("f_subj" if x == "subj" else x for x in p) for p in article)
        self.patterns = {
            "article": [self._compile(p) for p in article],
            "forum": [self._compile(p) for p in forum],
            "product": [self._compile(p) for p in product] + [self._compile(p) for p in article[:3]],
        }
        self.question = self._compile(question)
        self.domains = _split(_DOMAINS[code])
        self.domains_by_kind = {
            "forum": tuple(d for d in self.domains if _FORUM_DOMAIN_RE.search(d)),
            "product": tuple(d for d in self.domains if _SHOP_DOMAIN_RE.search(d)),
        }
        self.domains_by_kind["article"] = tuple(
            d for d in self.domains if d not in self.domains_by_kind["forum"] + self.domains_by_kind["product"]
        )
        words = {t for options in self.slots.values() for opt in options for t in TOKEN_RE.findall(opt)}
        # Substitution vocabulary for near duplicates: plain words only, sorted for determinism.
        self.vocab = tuple(sorted(w for w in words if len(w) >= 3 and w.isalpha()))

    def _compile(self, pattern: Sequence[str]) -> tuple[Union[str, tuple[str, ...]], ...]:
        return tuple(self.slots[x] if x in self.slots else x for x in pattern)

    def render(self, rng: random.Random, pattern: Sequence[Union[str, tuple[str, ...]]], end: str,
               decks: Optional[dict[int, list[int]]] = None) -> str:
        """One sentence from ``pattern``.

        ``decks`` (one per document) makes each slot walk its options in a random cyclic order, so a
        phrase repeats within a document only after all the others were used: a document of a few
        hundred words then has next to no repeated word n-grams, as real text.
        """
        rand = rng.random
        if decks is None:
            parts = [p if p.__class__ is str else p[int(rand() * len(p))] for p in pattern]
        else:
            parts = []
            for p in pattern:
                if p.__class__ is str:
                    parts.append(p)
                    continue
                size = len(p)
                deck = decks.get(id(p))
                if deck is None:
                    strides = _STRIDES[size]
                    deck = decks[id(p)] = [int(rand() * size), strides[int(rand() * len(strides))]]
                else:
                    deck[0] = (deck[0] + deck[1]) % size
                parts.append(p[deck[0]])
        if self.spaced:
            s = " ".join(parts).replace(" ,", ",")
            return s[0].upper() + s[1:] + end
        return "".join(parts) + end

    def pick(self, rng: random.Random, slot: str) -> str:
        options = self.slots[slot]
        return options[int(rng.random() * len(options))]

    def word_count(self, sentence: str) -> int:
        if self.spaced:
            return sentence.count(" ") + 1
        return max(1, len(sentence) // 2)

    def paragraphs(self, rng: random.Random, kind: str, target_words: int) -> list[str]:
        """Paragraphs of one prose document of the given kind (article, forum, product)."""
        if kind == "product":
            target_words = min(target_words, 220)  # product pages are short; their word lists are too
        patterns = self.patterns[kind]
        n_patterns = len(patterns)
        rand = rng.random
        sep = self.sentence_sep
        paras: list[str] = []
        words = 0
        current: list[str] = []
        decks: dict[int, list[int]] = {}
        if kind == "forum":
            opener = self.pick(rng, "f_open")
            current.append(opener)
            words += self.word_count(opener)
        lo, hi = (1, 4) if kind == "forum" else (2, 6)
        para_len = rng.randint(lo, hi)
        while words < target_words:
            s = self.render(rng, patterns[int(rand() * n_patterns)], self.end, decks)
            current.append(s)
            words += self.word_count(s)
            if len(current) >= para_len:
                paras.append(sep.join(current))
                current = []
                para_len = rng.randint(lo, hi)
        if current:
            paras.append(sep.join(current))
        if kind == "forum":
            question = self.render(rng, self.question, self.qend, decks)
            i = rng.randrange(len(paras))
            paras[i] = paras[i] + sep + question
            paras.append(self.pick(rng, "f_close"))
        elif kind == "product":
            fixed = rng.sample(self.slots["p_fixed"], rng.randint(1, 2))
            paras.append(sep.join(fixed))
        return paras


class _SmoothRoundRobin:
    """Deterministic, evenly spread weighted choice (smooth weighted round robin).

    Every category gets its share from the first few hundred picks on, so even a small corpus
    contains every planted case.
    """

    def __init__(self, weights: dict[str, float]) -> None:
        self.names = list(weights)
        self.weights = [weights[n] for n in self.names]
        self.total = sum(self.weights)
        self.credit = [0.0] * len(self.names)

    def next(self) -> str:
        credit = self.credit
        best = 0
        for i, w in enumerate(self.weights):
            credit[i] += w
            if credit[i] > credit[best]:
                best = i
        credit[best] -= self.total
        return self.names[best]


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    x = rng.random() * sum(weights.values())
    for name, w in weights.items():
        x -= w
        if x < 0:
            return name
    return next(reversed(weights))


# --------------------------------------------------------------------------------------------------
# Personal data values
# --------------------------------------------------------------------------------------------------
def _luhn_complete(payload: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # doubled once the check digit is appended on the right
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return payload + str((10 - total % 10) % 10)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(n))


def _credit_card(rng: random.Random) -> str:
    brand = rng.randrange(4)
    if brand == 0:
        number = _luhn_complete("4" + _digits(rng, 14))
    elif brand == 1:
        number = _luhn_complete("5" + str(rng.randint(1, 5)) + _digits(rng, 13))
    elif brand == 2:
        number = _luhn_complete(rng.choice(("34", "37")) + _digits(rng, 12))
        return f"{number[:4]} {number[4:10]} {number[10:]}"
    else:
        number = _luhn_complete("6011" + _digits(rng, 11))
    sep = rng.choice((" ", "-", ""))
    return sep.join(number[i:i + 4] for i in range(0, 16, 4))


_IBAN_LAYOUT = {"DE": (("n", 18),), "FR": (("n", 23),), "ES": (("n", 20),), "IT": (("a", 1), ("n", 22)),
                "NL": (("a", 4), ("n", 10)), "GB": (("a", 4), ("n", 14))}
_IBAN_BY_LANG = {"en": ("GB", "DE", "NL"), "de": ("DE",), "fr": ("FR",), "es": ("ES",)}


def _iban(rng: random.Random, lang: str) -> str:
    country = rng.choice(_IBAN_BY_LANG[lang])
    bban = "".join(
        _digits(rng, count) if kind == "n" else "".join(chr(65 + rng.randrange(26)) for _ in range(count))
        for kind, count in _IBAN_LAYOUT[country]
    )
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    compact = f"{country}{check:02d}{bban}"
    if rng.random() < 0.5:
        return compact
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def _ssn(rng: random.Random) -> str:
    while True:
        area = rng.randint(1, 899)
        value = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
        if area != 666 and value not in ("123-45-6789", "078-05-1120"):
            return value


def _ipv4(rng: random.Random) -> str:
    first = rng.choice((23, 31, 45, 52, 66, 81, 89, 104, 138, 151, 178, 185, 193, 203, 212))
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}"


def _phone(rng: random.Random, lang: str) -> str:
    if lang == "en":
        if rng.random() < 0.2:
            line = f"7946 0{rng.randrange(1000):03d}"  # Ofcom's range reserved for fiction
            return rng.choice((f"+44 20 {line}", f"020 {line}"))
        area = rng.choice(_US_AREA_CODES)
        exchange = rng.randint(201, 999)
        while exchange == 555 or exchange % 100 == 11:
            exchange = rng.randint(201, 999)
        line = rng.randrange(10000)
        fmt = rng.randrange(4)
        if fmt == 0:
            return f"({area}) {exchange}-{line:04d}"
        if fmt == 1:
            return f"{area}-{exchange}-{line:04d}"
        if fmt == 2:
            return f"{area}.{exchange}.{line:04d}"
        return f"+1 {area} {exchange} {line:04d}"
    if lang == "de":
        if rng.random() < 0.5:
            return f"+49 30 {rng.randint(2, 9)}{_digits(rng, 7)}"
        return f"0151 {rng.randint(1, 9)}{_digits(rng, 7)}"
    if lang == "fr":
        if rng.random() < 0.5:
            return "0" + str(rng.randint(1, 5)) + "".join(f" {rng.randrange(100):02d}" for _ in range(4))
        return "+33 6" + "".join(f" {rng.randrange(100):02d}" for _ in range(4))
    if rng.random() < 0.5:
        return f"+34 91{rng.randrange(10)} {rng.randrange(1000):03d} {rng.randrange(1000):03d}"
    return f"6{rng.randrange(10)}{rng.randrange(10)} {rng.randrange(1000):03d} {rng.randrange(1000):03d}"


class _People:
    """Fake persons: name, e-mail address."""

    def __init__(self) -> None:
        self.first = {k: _split(v) for k, v in _FIRST_NAMES.items()}
        self.last = {k: _split(v) for k, v in _LAST_NAMES.items()}
        self.mail = {k: _split(v) for k, v in _EMAIL_DOMAINS.items()}

    def person(self, rng: random.Random, lang: str) -> tuple[str, str]:
        return rng.choice(self.first[lang]), rng.choice(self.last[lang])

    def email(self, rng: random.Random, lang: str, person: Optional[tuple[str, str]] = None) -> str:
        first, last = person or self.person(rng, lang)
        f, ln = _ascii_fold(first).lower(), _ascii_fold(last).lower()
        form = rng.randrange(4)
        local = (f"{f}.{ln}", f"{f[0]}{ln}", f"{f}{ln}{rng.randint(1, 99)}", f"{f}_{ln}")[form]
        return f"{local}@{rng.choice(self.mail[lang])}"


# --------------------------------------------------------------------------------------------------
# Near duplicates by controlled word substitutions
# --------------------------------------------------------------------------------------------------
def _substitute(text: str, spans: list[tuple[int, int]], positions: Iterable[int], rng: random.Random,
                vocab: Sequence[str]) -> str:
    out: list[str] = []
    last = 0
    for p in sorted(positions):
        start, end = spans[p]
        original = text[start:end]
        word = original
        while word.lower() == original.lower():
            word = vocab[int(rng.random() * len(vocab))]
        if original[:1].isupper():
            word = word[:1].upper() + word[1:]
        out.append(text[last:start])
        out.append(word)
        last = end
    out.append(text[last:])
    return "".join(out)


def make_near_duplicate(text: str, target: float, rng: random.Random, vocab: Sequence[str],
                        n: int = SHINGLE_N, attempts: int = 4) -> tuple[str, float]:
    """Edit ``text`` by word substitutions so that its reference Jaccard to the original is ``target``.

    A substituted token inside the text changes exactly ``n`` shingles of the n-gram set when edits are
    at least ``n`` tokens apart; a substitution at token ``p < n - 1`` changes ``p + 1`` of them. With
    ``S`` distinct shingles and ``m`` changed ones, ``J = (S - m) / (S + m)``, so ``m`` is solved from
    the target and split into ``k`` interior edits plus one edge edit for the remainder. The result is
    measured (repeated n-grams in the source can make it differ) and the closest of a few attempts kept.

    Args:
        text: Source text; needs roughly ``3 n`` tokens or more.
        target: Wanted similarity in (0, 1].
        rng: Random source.
        vocab: Replacement words (plain ``\\w+`` words of the same language).
        n: Shingle length.
        attempts: Tries with different edit positions; the one closest to ``target`` wins.

    Returns:
        The edited text and its measured Jaccard similarity to ``text``.
    """
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target similarity must be in (0, 1], got {target}")
    spans = [m.span() for m in TOKEN_RE.finditer(text)]
    n_tokens = len(spans)
    base = shingles(text, n)
    size = len(base)
    changes = size * (1.0 - target) / (1.0 + target)
    k, edge = divmod(int(round(changes)), n)
    lo, hi = 2 * n - 2, n_tokens - n  # interior edits touch n shingles each and no edge shingle
    room = hi - lo + 1 - (n - 1) * (k - 1)
    if n_tokens < 3 * n or room < k:
        raise ValueError(
            f"text too short for a near duplicate at similarity {target}: {n_tokens} tokens; "
            "use a longer source text"
        )
    best: Optional[tuple[float, str, float]] = None
    for _ in range(attempts):
        positions = [lo + q + (n - 1) * i for i, q in enumerate(sorted(rng.sample(range(room), k)))] if k else []
        if edge:
            positions.append(edge - 1)
        variant = _substitute(text, spans, positions, rng, vocab)
        measured = true_jaccard(text, variant, n)
        error = abs(measured - target)
        if best is None or error < best[0]:
            best = (error, variant, measured)
        if error <= 0.005:
            break
    assert best is not None
    return best[1], best[2]


# --------------------------------------------------------------------------------------------------
# Output files
# --------------------------------------------------------------------------------------------------
class _PartWriter:
    """One JSONL part file, plain or compressed, with byte-reproducible framing."""

    _FLUSH_BYTES = 1 << 20

    def __init__(self, path: Path, compression: str) -> None:
        self.path = path
        self.compression = compression
        self._raw = open(path, "wb")
        if compression == "gz":
            self._stream: Any = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6)
        elif compression == "zst":
            import zstandard

            self._stream = zstandard.ZstdCompressor(level=3).stream_writer(self._raw, closefd=False)
        else:
            self._stream = self._raw
        self._buffer: list[bytes] = []
        self._buffered = 0
        self.records = 0
        self.uncompressed_bytes = 0
        self._content = hashlib.sha256()

    def write(self, line: bytes) -> None:
        self._buffer.append(line)
        self._buffered += len(line)
        self.records += 1
        if self._buffered >= self._FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            chunk = b"".join(self._buffer)
            self._content.update(chunk)
            self._stream.write(chunk)
            self.uncompressed_bytes += len(chunk)
            self._buffer = []
            self._buffered = 0

    def close(self) -> dict[str, Any]:
        self._flush()
        if self._stream is not self._raw:
            self._stream.close()
        self._raw.close()
        return {
            "path": self.path.name,
            "compression": self.compression,
            "records": self.records,
            "bytes": self.path.stat().st_size,
            "uncompressed_bytes": self.uncompressed_bytes,
            "sha256": _file_sha256(self.path),
            "content_sha256": self._content.hexdigest(),
        }


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def open_corpus_file(path: Union[str, Path]) -> io.BufferedIOBase:
    """Open a corpus file for binary reading, decompressing ``.gz`` and ``.zst`` by suffix."""
    path = Path(path)
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    if path.name.endswith(".zst"):
        import zstandard

        fh = open(path, "rb")
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(fh, closefd=True))
    return open(path, "rb")


def iter_records(corpus_dir: Union[str, Path], manifest: Optional[dict[str, Any]] = None) -> Iterator[dict[str, Any]]:
    """Yield every record of the part files listed in a corpus manifest, in file order.

    Args:
        corpus_dir: Directory written by :func:`generate_corpus`.
        manifest: The manifest if already loaded; read from ``corpus_dir/manifest.json`` otherwise.
    """
    corpus_dir = Path(corpus_dir)
    manifest = manifest or load_manifest(corpus_dir)
    for entry in manifest["files"]:
        with open_corpus_file(corpus_dir / entry["path"]) as fh:
            for line in fh:
                yield json.loads(line)


def load_manifest(corpus_dir: Union[str, Path]) -> dict[str, Any]:
    """Read ``manifest.json`` of a generated corpus and check its format."""
    path = Path(corpus_dir) / MANIFEST_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: generate the corpus with `python -m benchmarks.corpus --out DIR`")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"{path} is not a {MANIFEST_FORMAT} manifest (format={manifest.get('format')!r})")
    return manifest


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$", re.IGNORECASE)


def parse_size(size: Union[int, str]) -> int:
    """Bytes from ``123``, ``"400KB"``, ``"200MB"``, ``"1.5GiB"`` (decimal units unless ``...iB``)."""
    if isinstance(size, int):
        value = size
    else:
        match = _SIZE_RE.match(size)
        if not match:
            raise ValueError(f"cannot read size {size!r}: write it like 200MB, 400KB, 1GiB or a byte count")
        number, unit, binary = match.groups()
        power = " kmgt".index(unit.lower() or " ")
        value = int(float(number) * ((1024 if binary else 1000) ** power))
    if value <= 0:
        raise ValueError(f"size must be positive, got {size!r}")
    return value


def parse_compression(spec: Union[str, Sequence[str]], files: int) -> list[str]:
    """Per-file compression from ``"gz"`` or a comma-separated list cycled over the files."""
    names = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else list(spec)
    bad = [s for s in names if s not in COMPRESSIONS]
    if not names or bad:
        raise ValueError(f"unknown compression {bad or names}; use one of {sorted(COMPRESSIONS)} or a comma list")
    return [names[i % len(names)] for i in range(files)]


# --------------------------------------------------------------------------------------------------
# The corpus builder
# --------------------------------------------------------------------------------------------------
_CATEGORY_WEIGHTS = {"clean": 0.84, "pii": 0.05, "junk": 0.07, "exact_duplicate": 0.02, "near_duplicate": 0.02}
_KIND_WEIGHTS = {"article": 0.5, "forum": 0.25, "product": 0.25}
_NEAR_DUP_LANG_WEIGHTS = {"en": 0.6, **{c: 0.4 / 7 for c in ("de", "fr", "es", "it", "pt", "nl", "ru")}}
_EPOCH = _dt.date(2023, 1, 1)
_SLUG_RE = re.compile(r"[a-z0-9]+")


class _Builder:
    """Makes records and keeps the ground truth; knows nothing about files."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(f"corpusforge-corpus:{seed}:documents")
        self.langs = {code: _Language(code) for code in LANGUAGES}
        self.people = _People()
        self.schedule = _SmoothRoundRobin(_CATEGORY_WEIGHTS)
        self.next_index = 0
        self.languages: dict[str, list[str]] = {code: [] for code in LANGUAGES}
        self.categories = {name: 0 for name in _CATEGORY_WEIGHTS}
        self.kinds = {name: 0 for name in _KIND_WEIGHTS}
        self.exact: list[dict[str, Any]] = []
        self.near: list[dict[str, Any]] = []
        self.pii: list[dict[str, Any]] = []
        self.junk: list[dict[str, Any]] = []
        self._junk_turn = 0
        self._target_turn = 0
        self._pii_turn = {code: 0 for code in _PII_TEMPLATES}

    # -- records ---------------------------------------------------------------------------------
    def _record(self, lang: str, kind: str, text: str, category: str) -> dict[str, Any]:
        rng = self.rng
        index = self.next_index
        self.next_index += 1
        doc_id = f"doc-{index:08d}"
        language = self.langs.get(lang) or self.langs["en"]
        domain = rng.choice(language.domains_by_kind.get(kind) or language.domains)
        slug = "-".join(_SLUG_RE.findall(_ascii_fold(text[:60]).lower())[:8]) or kind
        url = f"https://www.{domain}/{_URL_SECTION[kind]}/{slug}-{index}"
        crawl_date = (_EPOCH + _dt.timedelta(days=rng.randrange(730))).isoformat()
        self.languages.setdefault(lang, []).append(doc_id)
        self.categories[category] += 1
        if kind in self.kinds:
            self.kinds[kind] += 1
        return {"id": doc_id, "text": text, "url": url, "crawl_date": crawl_date, "domain": domain}

    def _prose(self, lang: str, kind: str, words: int) -> list[str]:
        return self.langs[lang].paragraphs(self.rng, kind, words)

    def _doc_words(self) -> int:
        return int(min(1400, max(85, self.rng.lognormvariate(math.log(115), 0.5))))

    # -- categories ------------------------------------------------------------------------------
    def next_slot(self) -> list[tuple[dict[str, Any], int]]:
        """Records of the next scheduled slot as (record, delay in slots) pairs."""
        category = self.schedule.next()
        return getattr(self, "_make_" + category)()

    def _make_clean(self) -> list[tuple[dict[str, Any], int]]:
        lang = _weighted(self.rng, LANGUAGE_WEIGHTS)
        kind = _weighted(self.rng, _KIND_WEIGHTS)
        text = "\n\n".join(self._prose(lang, kind, self._doc_words()))
        return [(self._record(lang, kind, text, "clean"), 0)]

    def _make_exact_duplicate(self) -> list[tuple[dict[str, Any], int]]:
        rng = self.rng
        lang = _weighted(rng, LANGUAGE_WEIGHTS)
        kind = _weighted(rng, _KIND_WEIGHTS)
        text = "\n\n".join(self._prose(lang, kind, self._doc_words()))
        out = []
        for copy in range(rng.randint(2, 4)):
            out.append((self._record(lang, kind, text, "exact_duplicate"), 0 if copy == 0 else rng.randint(1, 40)))
        self.exact.append({
            "group": f"ed-{len(self.exact):05d}",
            "lang": lang,
            "ids": [r["id"] for r, _ in out],
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        })
        return out

    def _make_near_duplicate(self) -> list[tuple[dict[str, Any], int]]:
        rng = self.rng
        lang = _weighted(rng, _NEAR_DUP_LANG_WEIGHTS)
        language = self.langs[lang]
        text = "\n\n".join(self._prose(lang, "article", rng.randint(200, 450)))
        base = self._record(lang, "article", text, "near_duplicate")
        out = [(base, 0)]
        members = []
        texts = {base["id"]: text}
        for _ in range(rng.randint(1, 3)):
            target = NEAR_DUP_TARGETS[self._target_turn % len(NEAR_DUP_TARGETS)]
            self._target_turn += 1
            variant, measured = make_near_duplicate(text, target, rng, language.vocab)
            record = self._record(lang, "article", variant, "near_duplicate")
            texts[record["id"]] = variant
            members.append({"id": record["id"], "target": target, "jaccard": round(measured, 6)})
            out.append((record, rng.randint(1, 40)))
        ids = list(texts)
        pairs = [
            {"a": a, "b": b, "jaccard": round(true_jaccard(texts[a], texts[b]), 6)}
            for i, a in enumerate(ids) for b in ids[i + 1:]
        ]
        self.near.append({"cluster": f"nd-{len(self.near):05d}", "lang": lang, "base": base["id"],
                          "members": members, "pairs": pairs})
        return out

    def _make_pii(self) -> list[tuple[dict[str, Any], int]]:
        rng = self.rng
        lang = _weighted(rng, _PII_LANG_WEIGHTS)
        kind = _weighted(rng, _KIND_WEIGHTS)
        paras = self._prose(lang, kind, self._doc_words())
        templates = _PII_TEMPLATES[lang]
        sentences = []
        entities: list[dict[str, Any]] = []
        offset = 0
        for _ in range(rng.randint(2, 3)):
            template = templates[self._pii_turn[lang] % len(templates)]
            self._pii_turn[lang] += 1
            sentence, found = self._fill_pii(template, lang)
            if sentences:
                offset += 1  # the space between sentences
            for ent in found:
                ent["start"] += offset
                ent["end"] += offset
            entities.extend(found)
            sentences.append(sentence)
            offset += len(sentence)
        pii_para = " ".join(sentences)
        at = rng.randint(1, len(paras))
        para_start = sum(len(p) + 2 for p in paras[:at])
        paras.insert(at, pii_para)
        text = "\n\n".join(paras)
        for ent in entities:
            ent["start"] += para_start
            ent["end"] += para_start
            assert text[ent["start"]:ent["end"]] == ent["value"]
        record = self._record(lang, kind, text, "pii")
        self.pii.append({"id": record["id"], "lang": lang, "entities": entities})
        return [(record, 0)]

    def _fill_pii(self, template: str, lang: str) -> tuple[str, list[dict[str, Any]]]:
        rng = self.rng
        person = self.people.person(rng, lang)
        parts: list[str] = []
        entities = []
        pos = 0
        last = 0
        for match in _PLACEHOLDER_RE.finditer(template):
            literal = template[last:match.start()]
            parts.append(literal)
            pos += len(literal)
            kind = match.group(1)
            if kind == "PERSON":
                value = f"{person[0]} {person[1]}"
            elif kind == "EMAIL_ADDRESS":
                value = self.people.email(rng, lang, person)
            elif kind == "PHONE_NUMBER":
                value = _phone(rng, lang)
            elif kind == "CREDIT_CARD":
                value = _credit_card(rng)
            elif kind == "IP_ADDRESS":
                value = _ipv4(rng)
            elif kind == "US_SSN":
                value = _ssn(rng)
            elif kind == "IBAN_CODE":
                value = _iban(rng, lang)
            else:  # pragma: no cover - templates are module constants
                raise ValueError(f"unknown placeholder {kind}")
            entities.append({"type": kind, "value": value, "start": pos, "end": pos + len(value)})
            parts.append(value)
            pos += len(value)
            last = match.end()
        parts.append(template[last:])
        return "".join(parts), entities

    def _make_junk(self) -> list[tuple[dict[str, Any], int]]:
        category = JUNK_CATEGORIES[self._junk_turn % len(JUNK_CATEGORIES)]
        self._junk_turn += 1
        text, lang, extra = getattr(self, "_junk_" + category)()
        record = self._record(lang, "junk", text, "junk")
        self.junk.append({"id": record["id"], "category": category, **extra})
        return [(record, 0)]

    def _junk_cookie_notice(self) -> tuple[str, str, dict[str, Any]]:
        rng = self.rng
        lines = rng.sample(_COOKIE_LINES, rng.randint(4, 8))
        lines.append(f"© {rng.randint(2015, 2024)} {rng.choice(self.langs['en'].domains)}. All rights reserved.")
        return "\n".join(lines), "en", {}

    def _junk_lorem_ipsum(self) -> tuple[str, str, dict[str, Any]]:
        rng = self.rng
        paras = []
        for p in range(rng.randint(2, 4)):
            sentences = ["Lorem ipsum dolor sit amet, consectetur adipiscing elit."] if p == 0 else []
            for _ in range(rng.randint(3, 6)):
                words = [rng.choice(_LOREM_WORDS) for _ in range(rng.randint(6, 14))]
                sentences.append(" ".join(words).capitalize() + ".")
            paras.append(" ".join(sentences))
        return "\n\n".join(paras), "la", {}

    def _junk_javascript_warning(self) -> tuple[str, str, dict[str, Any]]:
        return "\n".join(self.rng.sample(_JS_LINES, self.rng.randint(2, 4))), "en", {}

    def _junk_navigation_menu(self) -> tuple[str, str, dict[str, Any]]:
        return "\n".join(self.rng.sample(_NAV_LINES, self.rng.randint(8, 16))), "en", {}

    def _junk_symbol_lines(self) -> tuple[str, str, dict[str, Any]]:
        rng = self.rng
        lines = []
        for _ in range(rng.randint(10, 30)):
            if rng.random() < 0.3:
                lines.append(rng.choice("=-*#~_") * rng.randint(10, 60))
            else:
                lines.append(rng.choice(_SYMBOL_LINES))
        return "\n".join(lines), "zxx", {}

    def _junk_repetitive_lines(self) -> tuple[str, str, dict[str, Any]]:
        rng = self.rng
        lines = rng.sample(_REPETITIVE_LINES, rng.randint(1, 2))
        return "\n".join(lines[i % len(lines)] for i in range(rng.randint(20, 60))), "en", {}

    def _junk_short_doc(self) -> tuple[str, str, dict[str, Any]]:
        return " ".join(self.rng.sample(_SHORT_DOCS, self.rng.randint(1, 2))), "en", {}

    def _junk_code_braces(self) -> tuple[str, str, dict[str, Any]]:
        rng = self.rng
        prose = rng.choice(_CODE_PROSE)
        code = "\n\n".join(rng.sample(_CODE_SNIPPETS, rng.randint(1, 3)))
        intro = " ".join(self._prose("en", "forum", 30)[:1])
        return f"{intro}\n\n{prose}\n\n{code}", "en", {}

    def _junk_boilerplate_lines(self) -> tuple[str, str, dict[str, Any]]:
        rng = self.rng
        top = rng.sample(_BOILERPLATE_TOP, rng.randint(1, 2))
        bottom = rng.sample(_BOILERPLATE_BOTTOM, rng.randint(1, 3))
        body = self._prose("en", "article", self._doc_words())
        lines = top + body + bottom
        boiler = list(range(len(top))) + list(range(len(top) + len(body), len(lines)))
        return "\n".join(lines), "en", {"boilerplate_line_numbers": boiler}

    # -- malformed inputs ------------------------------------------------------------------------
    def malformed_lines(self, seed: int) -> list[tuple[bytes, dict[str, Any]]]:
        """The lines of ``malformed.jsonl`` with what ingest must do with each (1-based line numbers)."""
        rng = random.Random(f"corpusforge-corpus:{seed}:malformed")
        english = self.langs["en"]
        lines: list[tuple[bytes, dict[str, Any]]] = []

        def next_id() -> str:
            return f"mal-{len(lines) + 1:04d}"

        def dump(obj: Any, ascii_only: bool = False) -> bytes:
            return json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8")

        def good(nul: bool = False) -> None:
            doc_id = next_id()
            text = "\n\n".join(english.paragraphs(rng, "article", rng.randint(80, 120)))
            entry: dict[str, Any] = {"class": "good", "expected": "kept", "id": doc_id}
            if nul:
                cut = text.index(". ") + 1
                text = text[:cut] + "\x00" + text[cut:]
                entry.update({"class": "nul_escape", "nul_escape": True,
                              "note": "JSON \\u0000 escape inside good text: NUL is removed by normalization, "
                                      "the record is kept"})
            record = {"id": doc_id, "text": text, "url": f"https://www.riverside-gazette.com/news/{doc_id}",
                      "crawl_date": "2024-06-01", "domain": "riverside-gazette.com"}
            lines.append((dump(record), entry))

        def bad(cls: str, expected: str, raw: bytes, has_id: bool = True) -> None:
            entry: dict[str, Any] = {"class": cls, "expected": expected}
            if has_id:
                entry["id"] = next_id()
            lines.append((raw, entry))
            good()

        good()
        bad("malformed_json", "ingest:malformed_json",
            b'{"id": "' + next_id().encode() + b'", "text": "This record was cut off in the middle of a sen')
        bad("malformed_json", "ingest:malformed_json",
            b"{'id': '" + next_id().encode() + b"', 'text': 'Single quotes are not valid JSON.'}")
        bad("not_an_object", "ingest:not_an_object", b'["this", "is", "an", "array", "not", "a", "record"]', False)
        bad("not_an_object", "ingest:not_an_object", b"42", False)
        bad("not_an_object", "ingest:not_an_object", b'"a bare JSON string is not a record"', False)
        bad("missing_text", "ingest:missing_text",
            dump({"id": next_id(), "url": "https://www.cityweekly.org/news/no-text", "domain": "cityweekly.org"}))
        bad("missing_text", "ingest:missing_text", dump({"id": next_id(), "text": None}))
        bad("text_not_string", "ingest:text_not_string", dump({"id": next_id(), "text": 12345}))
        bad("text_not_string", "ingest:text_not_string",
            dump({"id": next_id(), "text": ["first part of the text.", "second part of the text."]}))
        bad("text_not_string", "ingest:text_not_string",
            dump({"id": next_id(), "text": {"body": "The text sits inside an object."}}))
        bad("empty_text", "ingest:empty_text", dump({"id": next_id(), "text": ""}))
        bad("empty_text", "ingest:empty_text", dump({"id": next_id(), "text": "   \n\t  \r\n "}))
        bad("invalid_utf8", "ingest:invalid_utf8",
            b'{"id": "' + next_id().encode() + b'", "text": "Caf\xff prices rose again this week, and the owners '
            b'blamed the cost of milk and rent."}')
        bad("lone_surrogate", "ingest:lone_surrogate",
            b'{"id": "' + next_id().encode() + b'", "text": "A broken character \\ud800 sits in the middle of '
            b'this sentence about the weather."}')
        controls = [chr(c) for c in list(range(1, 9)) + list(range(14, 32))]
        binary = "".join(rng.choice(controls) for _ in range(180)) + "PK header"
        bad("binary_content", "ingest:binary_content", dump({"id": next_id(), "text": binary}, ascii_only=True))
        good(nul=True)
        good()
        offset = 0
        for number, (raw, entry) in enumerate(lines, start=1):
            entry["line"] = number
            entry["byte_offset"] = offset
            offset += len(raw) + 1
        return lines


def _ordered_counts(items: Iterable[str], order: Sequence[str]) -> dict[str, int]:
    counts = {name: 0 for name in order}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def generate_corpus(
    out_dir: Union[str, Path],
    size: Union[int, str] = "20MB",
    *,
    seed: int = 0,
    files: int = 4,
    compression: Union[str, Sequence[str]] = "none",
    malformed: bool = True,
) -> dict[str, Any]:
    """Write a synthetic corpus and its ground-truth manifest.

    Args:
        out_dir: Output directory (created if missing). Part files of an earlier corpus that this one
            would not overwrite are an error, so that a reader never mixes two corpora.
        size: Target uncompressed bytes of the part files (``"200MB"``, ``"400KB"`` or an int). The last
            planted group may overshoot it by a few documents.
        seed: Random seed; the same (seed, size, files) give byte-identical files.
        files: Number of part files; records are dealt round-robin.
        compression: ``none``, ``gz``, ``zst`` or a per-file list (``"none,gz"``), cycled over the files.
        malformed: Also write ``malformed.jsonl`` (one line per bad-input class, good lines between).

    Returns:
        The manifest, as written to ``out_dir/manifest.json``.
    """
    target = parse_size(size)
    if files < 1:
        raise ValueError(f"files must be >= 1, got {files}")
    per_file = parse_compression(compression, files)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [f"part-{i:05d}{COMPRESSIONS[c]}" for i, c in enumerate(per_file)]
    stale = sorted(p.name for p in out.glob("part-*.jsonl*") if p.name not in names)
    if stale:
        raise ValueError(
            f"{out} already holds part files of another corpus ({', '.join(stale[:3])}...): "
            "remove them or choose an empty --out directory"
        )
    started = time.perf_counter()
    builder = _Builder(seed)
    writers = [_PartWriter(out / name, c) for name, c in zip(names, per_file)]
    pending: list[tuple[int, int, bytes]] = []
    pending_bytes = 0
    written = 0
    emitted = 0
    slot = 0
    seq = 0
    while written + pending_bytes < target:
        for record, delay in builder.next_slot():
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            if delay:
                heapq.heappush(pending, (slot + delay, seq, line))
                seq += 1
                pending_bytes += len(line)
            else:
                writers[emitted % files].write(line)
                emitted += 1
                written += len(line)
        slot += 1
        while pending and pending[0][0] <= slot:
            line = heapq.heappop(pending)[2]
            pending_bytes -= len(line)
            writers[emitted % files].write(line)
            emitted += 1
            written += len(line)
    while pending:
        line = heapq.heappop(pending)[2]
        writers[emitted % files].write(line)
        emitted += 1
        written += len(line)
    file_entries = [w.close() for w in writers]

    malformed_entry: Optional[dict[str, Any]] = None
    if malformed:
        lines = builder.malformed_lines(seed)
        path = out / MALFORMED_FILE
        path.write_bytes(b"".join(raw + b"\n" for raw, _ in lines))
        entries = [entry for _, entry in lines]
        malformed_entry = {
            "path": MALFORMED_FILE,
            "bytes": path.stat().st_size,
            "sha256": _file_sha256(path),
            "line_numbers": "1-based; byte_offset is the 0-based offset of the line's first byte",
            "expected_counts": _ordered_counts((e["expected"] for e in entries), ()),
            "lines": entries,
        }
    elif (out / MALFORMED_FILE).exists():
        (out / MALFORMED_FILE).unlink()  # a stale one would contradict this manifest

    manifest = _manifest(builder, seed, target, per_file, malformed, file_entries, malformed_entry, written)
    (out / MANIFEST_FILE).write_text(_dump_manifest(manifest), encoding="utf-8")
    elapsed = time.perf_counter() - started
    LOG.info("wrote %d documents, %.1f MB uncompressed, to %s in %.1f s", manifest["counts"]["documents"],
             written / 1e6, out, elapsed)
    return manifest


def _manifest(builder: _Builder, seed: int, target: int, per_file: list[str], malformed: bool,
              file_entries: list[dict[str, Any]], malformed_entry: Optional[dict[str, Any]],
              written: int) -> dict[str, Any]:
    exact_docs = sum(len(g["ids"]) for g in builder.exact)
    near_pairs = _ordered_counts((str(m["target"]) for c in builder.near for m in c["members"]),
                                 [str(t) for t in NEAR_DUP_TARGETS])
    pii_types = _ordered_counts((e["type"] for d in builder.pii for e in d["entities"]), PII_TYPES)
    counts = {
        "documents": builder.next_index,
        "uncompressed_bytes": written,
        "by_language": {lang: len(ids) for lang, ids in builder.languages.items()},
        "by_category": dict(builder.categories),
        "prose_by_kind": dict(builder.kinds),
        "exact_duplicate_groups": len(builder.exact),
        "exact_duplicate_docs": exact_docs,
        "exact_duplicate_redundant_docs": exact_docs - len(builder.exact),
        "near_duplicate_clusters": len(builder.near),
        "near_duplicate_variants_by_target": near_pairs,
        "pii_docs": len(builder.pii),
        "pii_entities_by_type": pii_types,
        "junk_by_category": _ordered_counts((j["category"] for j in builder.junk), JUNK_CATEGORIES),
    }
    if malformed_entry is not None:
        counts["malformed_lines"] = len(malformed_entry["lines"])
        counts["malformed_expected"] = malformed_entry["expected_counts"]
    return {
        "format": MANIFEST_FORMAT,
        "format_version": 1,
        "generator": {"module": "benchmarks.corpus", "version": GENERATOR_VERSION},
        "params": {"seed": seed, "target_bytes": target, "files": len(per_file), "compression": per_file,
                   "malformed": malformed},
        "record_fields": ["id", "text", "url", "crawl_date", "domain"],
        "similarity": {
            "measure": "jaccard of shingle sets",
            "lowercase": True,
            "token_regex": r"\w+",
            "regex_flags": "re.UNICODE",
            "shingle": "word n-gram",
            "n": SHINGLE_N,
            "function": "benchmarks.corpus.true_jaccard",
        },
        "notes": [
            "languages maps each language code to its document ids (la = lorem ipsum, zxx = no linguistic "
            "content); junk documents are listed under the language of their words.",
            "Near-duplicate clusters are made only from space-delimited languages; every member is also "
            "compared with every other in pairs. Exact duplicates share a text (sha256 of its UTF-8).",
            "Junk documents are repetitive by nature and may be near duplicates of each other; the "
            "near-duplicate ground truth covers the planted clusters only.",
            "PII offsets are Python str indices (code points) into the record's text; start inclusive, "
            "end exclusive. Entity types follow Presidio's names.",
        ],
        "files": file_entries,
        "counts": counts,
        "languages": {lang: ids for lang, ids in builder.languages.items() if ids},
        "exact_duplicates": builder.exact,
        "near_duplicates": builder.near,
        "pii": builder.pii,
        "junk": builder.junk,
        "malformed": malformed_entry,
    }


def _dump_manifest(manifest: dict[str, Any]) -> str:
    """JSON with one line per top-level key, or per entry of a top-level list: readable and compact."""
    def compact(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))

    lines = []
    for key, value in manifest.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            body = ",\n".join("  " + compact(item) for item in value)
            lines.append(f" {compact(key)}: [\n{body}\n ]")
        elif isinstance(value, dict) and key in ("counts", "malformed", "similarity", "params", "languages"):
            inner = []
            for k, v in value.items():
                if isinstance(v, list) and v and isinstance(v[0], dict):
                    body = ",\n".join("   " + compact(item) for item in v)
                    inner.append(f"  {compact(k)}: [\n{body}\n  ]")
                else:
                    inner.append(f"  {compact(k)}: {compact(v)}")
            lines.append(f" {compact(key)}: {{\n" + ",\n".join(inner) + "\n }")
        else:
            lines.append(f" {compact(key)}: {compact(value)}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry point; prints a JSON summary with the generation speed."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--size", default="20MB", help="target uncompressed size of the part files (200MB, 400KB)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--files", type=int, default=4, help="number of part files")
    parser.add_argument("--compression", default="none",
                        help="none|gz|zst, or a comma list cycled over the files (none,gz)")
    parser.add_argument("--no-malformed", dest="malformed", action="store_false",
                        help="do not write malformed.jsonl")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        manifest = generate_corpus(args.out, args.size, seed=args.seed, files=args.files,
                                   compression=args.compression, malformed=args.malformed)
    except ValueError as exc:
        parser.error(str(exc))
    elapsed = time.perf_counter() - started
    counts = manifest["counts"]
    mb = counts["uncompressed_bytes"] / 1e6
    print(json.dumps({
        "out": str(args.out),
        "documents": counts["documents"],
        "uncompressed_mb": round(mb, 3),
        "on_disk_mb": round(sum(f["bytes"] for f in manifest["files"]) / 1e6, 3),
        "seconds": round(elapsed, 3),
        "mb_per_s": round(mb / elapsed, 3) if elapsed else None,
        "docs_per_s": round(counts["documents"] / elapsed, 1) if elapsed else None,
        "compression": manifest["params"]["compression"],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
