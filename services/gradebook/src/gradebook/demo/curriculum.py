"""What a St. Petersburg general school teaches: subjects and weekly hours per grade, who teaches
them, the school calendar and the bell schedule.

Approximates the federal curriculum (ФОП) for a five-day week; exact hours vary by school, these
only need to be plausible and to fit the daily lesson limits.
"""

from __future__ import annotations

from datetime import date, time, timedelta

RUSSIAN = "Русский язык"
LITERATURE = "Литература"
READING = "Литературное чтение"
MATHS = "Математика"
ALGEBRA = "Алгебра"
GEOMETRY = "Геометрия"
STATISTICS = "Вероятность и статистика"
ENGLISH = "Английский язык"
HISTORY = "История"
SOCIAL = "Обществознание"
GEOGRAPHY = "География"
BIOLOGY = "Биология"
PHYSICS = "Физика"
CHEMISTRY = "Химия"
INFORMATICS = "Информатика"
WORLD = "Окружающий мир"
MUSIC = "Музыка"
ART = "Изобразительное искусство"
TECHNOLOGY = "Труд (технология)"
PE = "Физическая культура"
SAFETY = "Основы безопасности и защиты Родины"
RELIGIONS = "Основы религиозных культур и светской этики"
CULTURES = "Основы духовно-нравственной культуры народов России"
PROJECT = "Индивидуальный проект"

# Weekly hours per grade 1..11 (0: not taught in that grade).
_HOURS: dict[str, tuple[int, ...]] = {
    RUSSIAN: (5, 5, 5, 5, 5, 6, 4, 3, 3, 2, 2),
    READING: (4, 4, 4, 3, 0, 0, 0, 0, 0, 0, 0),
    LITERATURE: (0, 0, 0, 0, 3, 3, 2, 2, 3, 3, 3),
    ENGLISH: (0, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3),
    MATHS: (4, 4, 4, 4, 5, 5, 0, 0, 0, 0, 0),
    ALGEBRA: (0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3),
    GEOMETRY: (0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2),
    STATISTICS: (0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1),
    INFORMATICS: (0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1),
    WORLD: (2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0),
    RELIGIONS: (0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0),
    HISTORY: (0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2),
    SOCIAL: (0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2),
    CULTURES: (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0),
    GEOGRAPHY: (0, 0, 0, 0, 1, 1, 2, 2, 2, 1, 1),
    BIOLOGY: (0, 0, 0, 0, 1, 1, 1, 2, 2, 1, 1),
    PHYSICS: (0, 0, 0, 0, 0, 0, 2, 2, 3, 2, 2),
    CHEMISTRY: (0, 0, 0, 0, 0, 0, 0, 2, 2, 1, 1),
    MUSIC: (1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0),
    ART: (1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0),
    TECHNOLOGY: (1, 1, 1, 1, 2, 2, 2, 1, 1, 0, 0),
    SAFETY: (0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1),
    PE: (3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2),
    PROJECT: (0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0),
}
CURRICULUM: dict[int, list[tuple[str, int]]] = {
    grade: [(subject, hours[grade - 1]) for subject, hours in _HOURS.items() if hours[grade - 1]]
    for grade in range(1, 12)
}

# Daily lesson limits (СанПиН): the youngest have the shortest days.
MAX_LESSONS_PER_DAY = {1: 5, 2: 5, 3: 5, 4: 5, 5: 6, 6: 6, 7: 7, 8: 7, 9: 7, 10: 7, 11: 7}

PRIMARY_POSITION = "учитель начальных классов"
# In grades 1-4 the class's own teacher teaches everything but these.
PRIMARY_SPECIALIST_SUBJECTS = frozenset({ENGLISH, MUSIC, PE})

# Subject teachers by position; one teacher teaches all of a group's subjects in a class.
TEACHER_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ru": ("учитель русского языка и литературы", (RUSSIAN, LITERATURE)),
    "math": ("учитель математики", (MATHS, ALGEBRA, GEOMETRY, STATISTICS)),
    "en": ("учитель английского языка", (ENGLISH,)),
    "hist": ("учитель истории и обществознания", (HISTORY, SOCIAL, CULTURES)),
    "geo": ("учитель географии", (GEOGRAPHY,)),
    "bio": ("учитель биологии", (BIOLOGY,)),
    "phys": ("учитель физики", (PHYSICS,)),
    "chem": ("учитель химии", (CHEMISTRY,)),
    "inf": ("учитель информатики", (INFORMATICS, PROJECT)),
    "music": ("учитель музыки", (MUSIC,)),
    "art": ("учитель изобразительного искусства", (ART,)),
    "tech": ("учитель труда (технологии)", (TECHNOLOGY,)),
    "pe": ("учитель физической культуры", (PE,)),
    "safety": ("преподаватель-организатор ОБЗР", (SAFETY,)),
}
GROUP_OF_SUBJECT = {subject: group for group, (_, subjects) in TEACHER_GROUPS.items() for subject in subjects}
GROUP_FLOOR = {"ru": 2, "math": 3, "en": 2, "hist": 4, "geo": 4, "bio": 3, "phys": 3, "chem": 3, "inf": 2}
GROUP_FLOOR |= {"music": 1, "art": 4, "tech": 1, "safety": 1}

BELLS: tuple[tuple[time, time], ...] = (
    (time(9, 0), time(9, 45)),
    (time(9, 55), time(10, 40)),
    (time(11, 0), time(11, 45)),
    (time(12, 5), time(12, 50)),
    (time(13, 0), time(13, 45)),
    (time(13, 55), time(14, 40)),
    (time(14, 50), time(15, 35)),
)

# How heavily a subject is marked, and how marks lean there (art and PE are marked kindly).
NO_HOMEWORK = frozenset({PE, MUSIC, ART, TECHNOLOGY, SAFETY, PROJECT})
MARK_BIAS = {PE: 0.6, MUSIC: 0.5, ART: 0.5, TECHNOLOGY: 0.4, SAFETY: 0.3, PHYSICS: -0.15, ALGEBRA: -0.1}
PRACTICAL_SUBJECTS = frozenset({PHYSICS, CHEMISTRY, BIOLOGY, INFORMATICS, TECHNOLOGY, WORLD})
PASS_FAIL_SUBJECTS = frozenset({RELIGIONS})


def school_year_start(today: date) -> int:
    """The calendar year the school year containing `today` began in (summer → the one that ended)."""
    return today.year if today.month >= 9 else today.year - 1


def quarters(year: int) -> list[tuple[date, date]]:
    """The four quarters of a St. Petersburg school year, with the usual breaks between them."""
    return [
        (date(year, 9, 1), date(year, 10, 26)),
        (date(year, 11, 5), date(year, 12, 28)),
        (date(year + 1, 1, 12), date(year + 1, 3, 22)),
        (date(year + 1, 3, 30), date(year + 1, 5, 26)),
    ]


def holidays(year: int) -> frozenset[date]:
    return frozenset(
        {
            date(year, 11, 4),
            date(year + 1, 2, 23),
            date(year + 1, 3, 8),
            date(year + 1, 5, 1),
            date(year + 1, 5, 9),
        }
    )


def school_days(year: int, start: date, end: date) -> list[date]:
    """Weekdays inside a quarter and not a public holiday, between `start` and `end` inclusive."""
    off = holidays(year)
    days = []
    for first, last in quarters(year):
        day = max(first, start)
        while day <= min(last, end):
            if day.isoweekday() <= 5 and day not in off:
                days.append(day)
            day += timedelta(days=1)
    return days


# Topics a teacher writes into the journal, in teaching order (spread over the year).
TOPICS: dict[str, tuple[str, ...]] = {
    RUSSIAN: (
        "Повторение изученного в начальных классах",
        "Орфограммы в корне слова",
        "Безударные гласные в корне",
        "Правописание приставок",
        "Имя существительное как часть речи",
        "Склонение имён существительных",
        "Имя прилагательное",
        "Глагол: время и вид",
        "Словосочетание и предложение",
        "Знаки препинания при однородных членах",
        "Развитие речи: изложение",
        "Сложное предложение",
    ),
    LITERATURE: (
        "Устное народное творчество",
        "А. С. Пушкин. Лирика",
        "М. Ю. Лермонтов. «Бородино»",
        "Н. В. Гоголь. «Вечера на хуторе близ Диканьки»",
        "И. С. Тургенев. «Муму»",
        "Н. А. Некрасов. Стихотворения",
        "Л. Н. Толстой. «Кавказский пленник»",
        "А. П. Чехов. Рассказы",
        "Развитие речи: сочинение",
        "Внеклассное чтение",
    ),
    READING: (
        "Русские народные сказки",
        "Стихи о природе",
        "Рассказы о детях",
        "Басни И. А. Крылова",
        "Сказки А. С. Пушкина",
        "Внеклассное чтение",
    ),
    MATHS: (
        "Натуральные числа",
        "Сложение и вычитание",
        "Умножение и деление",
        "Числовые выражения",
        "Решение текстовых задач",
        "Обыкновенные дроби",
        "Десятичные дроби",
        "Проценты",
        "Площадь и периметр",
        "Контрольная работа и её анализ",
    ),
    ALGEBRA: (
        "Выражения с переменными",
        "Линейное уравнение с одной переменной",
        "Функция и её график",
        "Линейная функция",
        "Степень с натуральным показателем",
        "Многочлены",
        "Формулы сокращённого умножения",
        "Системы линейных уравнений",
        "Квадратные уравнения",
        "Неравенства",
    ),
    GEOMETRY: (
        "Начальные геометрические сведения",
        "Треугольники",
        "Признаки равенства треугольников",
        "Параллельные прямые",
        "Соотношения между сторонами и углами треугольника",
        "Четырёхугольники",
        "Площадь многоугольников",
        "Подобные треугольники",
    ),
    STATISTICS: (
        "Представление данных",
        "Описательная статистика",
        "Случайная изменчивость",
        "Вероятность случайного события",
        "Графы",
    ),
    ENGLISH: (
        "Present Simple",
        "My family",
        "School life",
        "Past Simple",
        "Travelling",
        "Present Perfect",
        "Sport and health",
        "Future forms",
        "Reading: St Petersburg",
        "Revision",
    ),
    HISTORY: (
        "Древний мир",
        "Древний Египет",
        "Древняя Греция",
        "Древний Рим",
        "Русь в IX–XII веках",
        "Россия в XVI веке",
        "Пётр I и основание Санкт-Петербурга",
        "Российская империя в XVIII веке",
        "Россия в XIX веке",
        "Повторительно-обобщающий урок",
    ),
    SOCIAL: ("Человек и общество", "Семья", "Экономика", "Право", "Государство", "Повторение"),
    CULTURES: ("Культура народов России", "Традиции и праздники", "Нравственные ценности"),
    GEOGRAPHY: (
        "Земля во Вселенной",
        "Географическая карта",
        "Литосфера",
        "Гидросфера",
        "Атмосфера",
        "Природа России",
        "Население России",
        "Северо-Запад России",
    ),
    BIOLOGY: (
        "Биология — наука о живой природе",
        "Клетка",
        "Ткани",
        "Растения",
        "Животные",
        "Человек и его здоровье",
        "Экосистемы",
    ),
    PHYSICS: (
        "Физические величины и их измерение",
        "Строение вещества",
        "Механическое движение",
        "Плотность вещества",
        "Силы в природе",
        "Давление",
        "Работа и мощность",
        "Тепловые явления",
        "Электрический ток",
    ),
    CHEMISTRY: (
        "Вещества и их свойства",
        "Атомы и молекулы",
        "Периодическая система Д. И. Менделеева",
        "Химические реакции",
        "Кислоты, основания, соли",
        "Растворы",
    ),
    INFORMATICS: (
        "Информация и информационные процессы",
        "Системы счисления",
        "Алгоритмы и исполнители",
        "Программирование на Python",
        "Электронные таблицы",
        "Компьютерные сети",
    ),
    WORLD: ("Природа и человек", "Растения нашего края", "Животные", "Вода и воздух", "Наш город"),
    MUSIC: ("Музыка и жизнь", "Русская классическая музыка", "Музыка народов мира", "Опера и балет"),
    ART: ("Рисунок с натуры", "Цвет в живописи", "Декоративно-прикладное искусство", "Архитектура"),
    TECHNOLOGY: ("Материалы и инструменты", "Технология обработки древесины", "Проектная работа"),
    PE: ("Лёгкая атлетика", "Гимнастика", "Спортивные игры: волейбол", "Баскетбол", "Лыжная подготовка"),
    SAFETY: ("Безопасность в быту", "Первая помощь", "Чрезвычайные ситуации", "Основы обороны"),
    RELIGIONS: ("Введение в курс", "Нравственные идеалы", "Праздники народов России"),
    PROJECT: ("Выбор темы проекта", "Работа с источниками", "Оформление проекта", "Защита проекта"),
}

HOMEWORK: dict[str, tuple[str, ...]] = {
    RUSSIAN: ("Упр. {n}, с. {p}", "Выучить правило на с. {p}, упр. {n}", "Словарные слова, с. {p}"),
    LITERATURE: ("Прочитать с. {p}–{q}", "Выучить стихотворение наизусть", "Ответить на вопросы на с. {p}"),
    READING: ("Прочитать с. {p}–{q}", "Выразительное чтение, с. {p}"),
    MATHS: ("№ {n}, {m}", "№ {n}–{m}, повторить таблицу умножения", "Решить задачи на с. {p}"),
    ALGEBRA: ("№ {n}, {m}", "§ {s}, № {n}–{m}"),
    GEOMETRY: ("§ {s}, задачи № {n}, {m}", "Выучить теорему, № {n}"),
    ENGLISH: ("Ex. {n}, p. {p}", "Learn the new words, p. {p}", "Workbook, p. {p}"),
}
DEFAULT_HOMEWORK = ("§ {s}, вопросы на с. {p}", "§ {s}, подготовить сообщение", "Повторить § {s}")
