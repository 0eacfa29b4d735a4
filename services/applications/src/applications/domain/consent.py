"""The consent to the processing of personal data (Federal Law 152-FZ) a parent gives.

Each wording has a version; an application records the version the parent accepted and when.
A new wording is a new entry here — old versions stay, as old applications refer to them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ConsentText:
    version: str
    title: str
    text: str


CONSENT_TEXTS: dict[str, ConsentText] = {
    "2026-09-01": ConsentText(
        version="2026-09-01",
        title="Согласие на обработку персональных данных",
        text=(
            "Я, действуя свободно, своей волей и в своём интересе, а также в интересе ребёнка, "
            "законным представителем которого являюсь, даю согласие оператору портала "
            "«Петербургское образование» и образовательной организации, указанной в заявлении, "
            "на обработку моих персональных данных (фамилия, имя, отчество, адрес электронной "
            "почты) и персональных данных ребёнка (фамилия, имя, отчество, дата рождения, "
            "сведения об успеваемости и посещаемости) в соответствии с Федеральным законом "
            "от 27.07.2006 № 152-ФЗ «О персональных данных» — в целях предоставления услуги "
            "«Электронный дневник». Согласие действует до его отзыва; отозвать его можно в "
            "личном кабинете в любой момент, после чего доступ к дневнику ребёнка прекращается."
        ),
    ),
}

CURRENT_CONSENT = CONSENT_TEXTS["2026-09-01"]
