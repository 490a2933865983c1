"""A large documentation repository of made-up but real-looking pages, for `bench/ingest.py --repo`.

`python bench/make_docs.py PATH [--pages N] [--large K] [--seed S]` makes a git repository at
PATH (branch `main`, one commit): a multilingual docs site, `docs/<lang>/<section>/<page>.md` in
English, German, Spanish, French, Portuguese, Russian, Japanese and Chinese (English complete,
the others a translated subset, as on real sites), with front matter, headings, paragraphs,
lists, tables, admonitions, code fences and links, in each page's own language (CJK without
spaces between words); and K very large English files (a changelog, release notes, an API
reference) of 300-420 KB each, under the service's default `max_file_size` of 1,000,000 bytes.

The sizes are chosen for the local model's run time, not only for looks: its chunks hold at most
254 WordPiece tokens, and these languages take 0.2 (English) to 0.45 (Russian) tokens a byte,
so a docs page makes about two chunks per KB plus one for its title and intro. Pages are
therefore short (median 1.5 KB: a quarter under 1 KB, most 1-4.5 KB, 1 % of 10-30 KB); the
defaults make about 12,300 chunks, of which the large files about 2,800 (700-1,300 each, several
steps), i.e. about ten minutes of the local model on two cores per ingestion.

No `lightfast.yml`: the default include globs (`**/*.md`, `**/*.mdx`) take every markdown file.
The same seed gives the same files and the same commit.
"""

# ruff: noqa: RUF001 (the vocabularies are Cyrillic and CJK)

import argparse
import datetime
import itertools
import os
import random
import string
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BRANCH = "main"
SECTIONS = ("getting-started", "guides", "reference", "tutorials", "deployment", "faq")
# Bytes of text to reach before the page ends (low, high, most likely): its last block goes past.
SMALL_PAGE = (300, 3_500, 300)
LONG_PAGE = (10_000, 30_000)
LONG_PAGE_SHARE = 0.01
LARGE_FILE = (300_000, 420_000)  # under the default max_file_size of 1,000,000 bytes
# Pages of a language per page of English: English is complete, translations cover part of it.
WEIGHTS = {"en": 5.0, "de": 1.2, "es": 1.2, "fr": 1.0, "pt": 1.0, "ja": 1.0, "zh": 1.0, "ru": 0.8}


@dataclass(frozen=True)
class Language:
    sep: str  # between sentences: a space, or nothing in Japanese and Chinese
    colon: str
    sections: tuple[str, ...]  # the titles of SECTIONS
    topics: tuple[str, ...]  # aligned with English's: the English one names the page's file
    aspects: tuple[str, ...]  # likewise
    headings: tuple[str, ...]
    admonitions: tuple[str, str, str]  # note, tip, warning
    columns: tuple[str, str, str, str]  # option, type, default, description
    sentences: tuple[str, ...]


# fmt: off
LANGUAGES = {
    "en": Language(
        sep=" ",
        colon=": ",
        sections=("Getting started", "Guides", "Reference", "Tutorials", "Deployment", "FAQ"),
        topics=(
            "Authentication", "Configuration", "Webhooks", "Caching", "Logging", "Databases",
            "Background tasks", "File uploads", "Rate limiting", "Search", "Permissions",
            "Notifications", "Testing", "Error handling", "Environment variables", "Command line",
            "Plugins", "Migrations", "Monitoring", "Localization",
        ),
        aspects=(
            "Overview", "Quick start", "Advanced usage", "Examples", "Troubleshooting",
            "Best practices", "Performance", "Security", "Migration", "Limits",
        ),
        headings=(
            "Overview", "Prerequisites", "Installation", "Configuration", "Example", "How it works",
            "Common problems", "Limitations", "Next steps", "See also",
        ),
        admonitions=("Note", "Tip", "Warning"),
        columns=("Option", "Type", "Default", "Description"),
        sentences=(
            "The service reads its settings from environment variables when it starts.",
            "Set `$name` in the configuration file before you start the server.",
            "Every request must carry a valid token in the Authorization header.",
            "If the build fails, check the log output for the first error, not the last one.",
            "You can run the command again safely: it only changes what is out of date.",
            "This page explains how the pieces fit together and when to use each one.",
            "Most projects never need to change the default value of `$name`.",
            "Large files are split into smaller parts so that no single step runs for long.",
            "The client retries failed requests with an exponential backoff.",
            "Use a separate API key for each environment, so that you can revoke one without "
            "touching the others.",
            "When the queue is full, new jobs wait until a worker is free.",
            "Run `$cmd` to see which version is installed.",
            "The examples below assume you have already created a project.",
            "Changes to the configuration take effect after the next deployment.",
            "A webhook is sent every time a document is created, updated or deleted.",
            "Keep secrets out of the repository and load them from a vault at runtime.",
            "The search index is updated a few seconds after each push.",
            "Older versions of the API remain available for at least twelve months.",
            "If you are upgrading from an earlier release, read the migration guide first.",
            "The default timeout is thirty seconds, which is enough for most workloads.",
            "Logs are kept for fourteen days and can be exported as JSON.",
            "Each team member can have a different role, from viewer to owner.",
            "Tests run in a fresh database, so they never depend on each other.",
            "The cache is invalidated automatically when the underlying data changes.",
        ),
    ),
    "de": Language(
        sep=" ",
        colon=": ",
        sections=(
            "Erste Schritte", "Anleitungen", "Referenz", "Tutorials", "Bereitstellung",
            "Häufige Fragen",
        ),
        topics=(
            "Authentifizierung", "Konfiguration", "Webhooks", "Caching", "Protokollierung",
            "Datenbanken", "Hintergrundaufgaben", "Datei-Uploads", "Ratenbegrenzung", "Suche",
            "Berechtigungen", "Benachrichtigungen", "Tests", "Fehlerbehandlung",
            "Umgebungsvariablen", "Kommandozeile", "Plugins", "Migrationen", "Überwachung",
            "Lokalisierung",
        ),
        aspects=(
            "Überblick", "Schnellstart", "Fortgeschrittene Nutzung", "Beispiele", "Fehlerbehebung",
            "Bewährte Praktiken", "Leistung", "Sicherheit", "Migration", "Grenzen",
        ),
        headings=(
            "Überblick", "Voraussetzungen", "Installation", "Konfiguration", "Beispiel",
            "Funktionsweise", "Häufige Probleme", "Einschränkungen", "Nächste Schritte",
            "Siehe auch",
        ),
        admonitions=("Hinweis", "Tipp", "Warnung"),
        columns=("Option", "Typ", "Standardwert", "Beschreibung"),
        sentences=(
            "Der Dienst liest seine Einstellungen beim Start aus Umgebungsvariablen.",
            "Setzen Sie `$name` in der Konfigurationsdatei, bevor Sie den Server starten.",
            "Jede Anfrage muss ein gültiges Token im Authorization-Header enthalten.",
            "Wenn der Build fehlschlägt, suchen Sie in der Protokollausgabe nach dem ersten "
            "Fehler, nicht nach dem letzten.",
            "Sie können den Befehl gefahrlos erneut ausführen: Er ändert nur, was veraltet ist.",
            "Diese Seite erklärt, wie die einzelnen Teile zusammenspielen und wann man welches "
            "verwendet.",
            "Die meisten Projekte müssen den Standardwert von `$name` nie ändern.",
            "Große Dateien werden in kleinere Teile zerlegt, damit kein einzelner Schritt lange "
            "läuft.",
            "Der Client wiederholt fehlgeschlagene Anfragen mit exponentiellem Backoff.",
            "Verwenden Sie für jede Umgebung einen eigenen API-Schlüssel, damit Sie einen "
            "widerrufen können, ohne die anderen anzutasten.",
            "Wenn die Warteschlange voll ist, warten neue Aufträge, bis ein Worker frei wird.",
            "Führen Sie `$cmd` aus, um zu sehen, welche Version installiert ist.",
            "Die folgenden Beispiele setzen voraus, dass Sie bereits ein Projekt angelegt haben.",
            "Änderungen an der Konfiguration werden nach dem nächsten Deployment wirksam.",
            "Bei jedem Anlegen, Ändern oder Löschen eines Dokuments wird ein Webhook gesendet.",
            "Bewahren Sie Geheimnisse nicht im Repository auf, sondern laden Sie sie zur "
            "Laufzeit aus einem Tresor.",
            "Der Suchindex wird wenige Sekunden nach jedem Push aktualisiert.",
            "Ältere Versionen der API bleiben mindestens zwölf Monate lang verfügbar.",
            "Das Standard-Timeout beträgt dreißig Sekunden, was für die meisten Anwendungen "
            "ausreicht.",
            "Tests laufen in einer frischen Datenbank und hängen daher nie voneinander ab.",
        ),
    ),
    "es": Language(
        sep=" ",
        colon=": ",
        sections=(
            "Primeros pasos", "Guías", "Referencia", "Tutoriales", "Despliegue",
            "Preguntas frecuentes",
        ),
        topics=(
            "Autenticación", "Configuración", "Webhooks", "Caché", "Registro", "Bases de datos",
            "Tareas en segundo plano", "Subida de archivos", "Límite de peticiones", "Búsqueda",
            "Permisos", "Notificaciones", "Pruebas", "Manejo de errores", "Variables de entorno",
            "Línea de comandos", "Plugins", "Migraciones", "Monitorización", "Localización",
        ),
        aspects=(
            "Introducción", "Inicio rápido", "Uso avanzado", "Ejemplos", "Solución de problemas",
            "Buenas prácticas", "Rendimiento", "Seguridad", "Migración", "Límites",
        ),
        headings=(
            "Descripción general", "Requisitos previos", "Instalación", "Configuración", "Ejemplo",
            "Cómo funciona", "Problemas frecuentes", "Limitaciones", "Próximos pasos",
            "Véase también",
        ),
        admonitions=("Nota", "Consejo", "Advertencia"),
        columns=("Opción", "Tipo", "Valor predeterminado", "Descripción"),
        sentences=(
            "El servicio lee su configuración de las variables de entorno al arrancar.",
            "Define `$name` en el archivo de configuración antes de iniciar el servidor.",
            "Cada petición debe llevar un token válido en la cabecera Authorization.",
            "Si la compilación falla, busca el primer error en el registro, no el último.",
            "Puedes volver a ejecutar el comando sin riesgo: solo cambia lo que está "
            "desactualizado.",
            "Esta página explica cómo encajan las piezas y cuándo conviene usar cada una.",
            "La mayoría de los proyectos nunca necesita cambiar el valor predeterminado de "
            "`$name`.",
            "Los archivos grandes se dividen en partes más pequeñas para que ningún paso dure "
            "demasiado.",
            "El cliente reintenta las peticiones fallidas con una espera exponencial.",
            "Usa una clave de API distinta para cada entorno, así podrás revocar una sin tocar "
            "las demás.",
            "Cuando la cola está llena, los trabajos nuevos esperan hasta que haya un trabajador "
            "libre.",
            "Ejecuta `$cmd` para ver qué versión está instalada.",
            "Los ejemplos siguientes suponen que ya has creado un proyecto.",
            "Los cambios en la configuración se aplican después del siguiente despliegue.",
            "Se envía un webhook cada vez que se crea, actualiza o elimina un documento.",
            "No guardes secretos en el repositorio; cárgalos desde un almacén seguro en tiempo "
            "de ejecución.",
            "El índice de búsqueda se actualiza unos segundos después de cada push.",
            "Las versiones anteriores de la API siguen disponibles durante al menos doce meses.",
        ),
    ),
    "fr": Language(
        sep=" ",
        colon=" : ",
        sections=(
            "Premiers pas", "Guides", "Référence", "Tutoriels", "Déploiement", "FAQ",
        ),
        topics=(
            "Authentification", "Configuration", "Webhooks", "Cache", "Journalisation",
            "Bases de données", "Tâches en arrière-plan", "Envoi de fichiers",
            "Limitation du débit", "Recherche", "Permissions", "Notifications", "Tests",
            "Gestion des erreurs", "Variables d'environnement", "Ligne de commande", "Extensions",
            "Migrations", "Supervision", "Localisation",
        ),
        aspects=(
            "Présentation", "Démarrage rapide", "Utilisation avancée", "Exemples", "Dépannage",
            "Bonnes pratiques", "Performances", "Sécurité", "Migration", "Limites",
        ),
        headings=(
            "Vue d'ensemble", "Prérequis", "Installation", "Configuration", "Exemple",
            "Fonctionnement", "Problèmes courants", "Limitations", "Étapes suivantes", "Voir aussi",
        ),
        admonitions=("Remarque", "Astuce", "Avertissement"),
        columns=("Option", "Type", "Valeur par défaut", "Description"),
        sentences=(
            "Le service lit ses paramètres dans les variables d'environnement au démarrage.",
            "Définissez `$name` dans le fichier de configuration avant de lancer le serveur.",
            "Chaque requête doit contenir un jeton valide dans l'en-tête Authorization.",
            "Si la compilation échoue, cherchez la première erreur dans le journal, pas la "
            "dernière.",
            "Vous pouvez relancer la commande sans risque : elle ne modifie que ce qui n'est "
            "plus à jour.",
            "Cette page explique comment les éléments s'articulent et quand utiliser chacun d'eux.",
            "La plupart des projets n'ont jamais besoin de modifier la valeur par défaut de "
            "`$name`.",
            "Les gros fichiers sont découpés en parties plus petites afin qu'aucune étape ne "
            "dure trop longtemps.",
            "Le client relance les requêtes échouées avec un délai exponentiel.",
            "Utilisez une clé d'API distincte pour chaque environnement afin de pouvoir en "
            "révoquer une sans toucher aux autres.",
            "Lorsque la file d'attente est pleine, les nouvelles tâches attendent qu'un worker "
            "se libère.",
            "Exécutez `$cmd` pour savoir quelle version est installée.",
            "Les exemples ci-dessous supposent que vous avez déjà créé un projet.",
            "Les modifications de la configuration prennent effet au prochain déploiement.",
            "Un webhook est envoyé chaque fois qu'un document est créé, modifié ou supprimé.",
            "Ne conservez pas de secrets dans le dépôt : chargez-les depuis un coffre-fort au "
            "moment de l'exécution.",
            "L'index de recherche est mis à jour quelques secondes après chaque push.",
            "Les anciennes versions de l'API restent disponibles pendant au moins douze mois.",
        ),
    ),
    "pt": Language(
        sep=" ",
        colon=": ",
        sections=(
            "Primeiros passos", "Guias", "Referência", "Tutoriais", "Implantação",
            "Perguntas frequentes",
        ),
        topics=(
            "Autenticação", "Configuração", "Webhooks", "Cache", "Logs", "Bancos de dados",
            "Tarefas em segundo plano", "Upload de arquivos", "Limite de requisições", "Busca",
            "Permissões", "Notificações", "Testes", "Tratamento de erros", "Variáveis de ambiente",
            "Linha de comando", "Plugins", "Migrações", "Monitoramento", "Localização",
        ),
        aspects=(
            "Introdução", "Início rápido", "Uso avançado", "Exemplos", "Solução de problemas",
            "Boas práticas", "Desempenho", "Segurança", "Migração", "Limites",
        ),
        headings=(
            "Visão geral", "Pré-requisitos", "Instalação", "Configuração", "Exemplo",
            "Como funciona", "Problemas comuns", "Limitações", "Próximos passos", "Veja também",
        ),
        admonitions=("Nota", "Dica", "Atenção"),
        columns=("Opção", "Tipo", "Padrão", "Descrição"),
        sentences=(
            "O serviço lê suas configurações das variáveis de ambiente ao iniciar.",
            "Defina `$name` no arquivo de configuração antes de iniciar o servidor.",
            "Toda requisição deve levar um token válido no cabeçalho Authorization.",
            "Se o build falhar, procure o primeiro erro no log, não o último.",
            "Você pode executar o comando de novo com segurança: ele só altera o que está "
            "desatualizado.",
            "Esta página explica como as partes se encaixam e quando usar cada uma.",
            "A maioria dos projetos nunca precisa alterar o valor padrão de `$name`.",
            "Arquivos grandes são divididos em partes menores para que nenhuma etapa demore muito.",
            "O cliente repete as requisições que falharam com um intervalo exponencial.",
            "Use uma chave de API diferente para cada ambiente, assim você pode revogar uma sem "
            "mexer nas outras.",
            "Quando a fila está cheia, as novas tarefas esperam até que um worker fique livre.",
            "Execute `$cmd` para ver qual versão está instalada.",
            "Os exemplos a seguir pressupõem que você já criou um projeto.",
            "As mudanças na configuração passam a valer após o próximo deploy.",
            "Um webhook é enviado sempre que um documento é criado, atualizado ou excluído.",
            "Não guarde segredos no repositório; carregue-os de um cofre em tempo de execução.",
            "O índice de busca é atualizado alguns segundos depois de cada push.",
            "As versões antigas da API continuam disponíveis por pelo menos doze meses.",
        ),
    ),
    "ru": Language(
        sep=" ",
        colon=": ",
        sections=(
            "Начало работы", "Руководства", "Справочник", "Учебники", "Развёртывание",
            "Частые вопросы",
        ),
        topics=(
            "Аутентификация", "Конфигурация", "Вебхуки", "Кэширование", "Журналирование",
            "Базы данных", "Фоновые задачи", "Загрузка файлов", "Ограничение запросов", "Поиск",
            "Права доступа", "Уведомления", "Тестирование", "Обработка ошибок",
            "Переменные окружения", "Командная строка", "Плагины", "Миграции", "Мониторинг",
            "Локализация",
        ),
        aspects=(
            "Введение", "Быстрый старт", "Расширенное использование", "Примеры",
            "Устранение неполадок", "Рекомендации", "Производительность", "Безопасность",
            "Миграция", "Ограничения",
        ),
        headings=(
            "Обзор", "Требования", "Установка", "Настройка", "Пример", "Как это работает",
            "Частые проблемы", "Ограничения", "Дальнейшие шаги", "См. также",
        ),
        admonitions=("Примечание", "Совет", "Предупреждение"),
        columns=("Параметр", "Тип", "По умолчанию", "Описание"),
        sentences=(
            "При запуске сервис читает настройки из переменных окружения.",
            "Задайте `$name` в файле конфигурации перед запуском сервера.",
            "Каждый запрос должен содержать действительный токен в заголовке Authorization.",
            "Если сборка завершилась с ошибкой, ищите в журнале первую ошибку, а не последнюю.",
            "Команду можно безопасно запустить повторно: она изменяет только то, что устарело.",
            "На этой странице объясняется, как части системы связаны между собой и когда "
            "использовать каждую из них.",
            "Большинству проектов никогда не нужно менять значение `$name` по умолчанию.",
            "Большие файлы делятся на небольшие части, чтобы ни один шаг не выполнялся слишком "
            "долго.",
            "Клиент повторяет неудачные запросы с экспоненциальной задержкой.",
            "Используйте отдельный ключ API для каждого окружения, чтобы отозвать один, не "
            "затрагивая остальные.",
            "Когда очередь заполнена, новые задачи ждут, пока освободится обработчик.",
            "Выполните `$cmd`, чтобы узнать установленную версию.",
            "В примерах ниже предполагается, что проект уже создан.",
            "Изменения конфигурации вступают в силу после следующего развёртывания.",
            "Вебхук отправляется каждый раз, когда документ создаётся, изменяется или удаляется.",
            "Не храните секреты в репозитории: загружайте их из хранилища во время выполнения.",
            "Поисковый индекс обновляется через несколько секунд после каждого пуша.",
            "Старые версии API остаются доступными не менее двенадцати месяцев.",
        ),
    ),
    "ja": Language(
        sep="",
        colon="：",
        sections=(
            "はじめに", "ガイド", "リファレンス", "チュートリアル", "デプロイ", "よくある質問",
        ),
        topics=(
            "認証", "設定", "Webhook", "キャッシュ", "ログ", "データベース",
            "バックグラウンドタスク", "ファイルのアップロード", "レート制限", "検索", "権限",
            "通知", "テスト", "エラー処理", "環境変数", "コマンドライン", "プラグイン",
            "マイグレーション", "監視", "ローカライズ",
        ),
        aspects=(
            "概要", "クイックスタート", "高度な使い方", "使用例", "トラブルシューティング",
            "ベストプラクティス", "パフォーマンス", "セキュリティ", "移行", "制限",
        ),
        headings=(
            "概要", "前提条件", "インストール", "設定", "例", "仕組み", "よくある問題", "制限事項",
            "次のステップ", "関連項目",
        ),
        admonitions=("注意", "ヒント", "警告"),
        columns=("オプション", "型", "既定値", "説明"),
        sentences=(
            "サービスは起動時に環境変数から設定を読み込みます。",
            "サーバーを起動する前に、設定ファイルで`$name`を指定してください。",
            "すべてのリクエストには、Authorizationヘッダーに有効なトークンが必要です。",
            "ビルドが失敗した場合は、最後ではなく最初のエラーをログで確認してください。",
            "このコマンドは何度実行しても安全です。古くなった部分だけが更新されます。",
            "このページでは、各機能の関係と使い分けについて説明します。",
            "ほとんどのプロジェクトでは、`$name`の既定値を変更する必要はありません。",
            "大きなファイルは小さな部分に分割されるため、一つのステップが長時間かかることはありません。",
            "クライアントは失敗したリクエストを指数バックオフで再試行します。",
            "環境ごとに別のAPIキーを使うと、他の環境に影響を与えずに一つだけ無効にできます。",
            "キューがいっぱいのときは、ワーカーが空くまで新しいジョブは待機します。",
            "インストールされているバージョンを確認するには`$cmd`を実行します。",
            "以下の例では、すでにプロジェクトを作成していることを前提としています。",
            "設定の変更は次回のデプロイ後に反映されます。",
            "ドキュメントが作成、更新、削除されるたびにWebhookが送信されます。",
            "シークレットはリポジトリに置かず、実行時に保管庫から読み込んでください。",
            "検索インデックスは、プッシュのたびに数秒後に更新されます。",
            "古いバージョンのAPIは、少なくとも12か月間は引き続き利用できます。",
        ),
    ),
    "zh": Language(
        sep="",
        colon="：",
        sections=("快速入门", "指南", "参考", "教程", "部署", "常见问题"),
        topics=(
            "身份验证", "配置", "Webhook", "缓存", "日志", "数据库", "后台任务", "文件上传",
            "速率限制", "搜索", "权限", "通知", "测试", "错误处理", "环境变量", "命令行", "插件",
            "数据迁移", "监控", "本地化",
        ),
        aspects=(
            "简介", "快速开始", "高级用法", "示例", "故障排除", "最佳实践", "性能", "安全",
            "迁移", "限制",
        ),
        headings=(
            "概述", "前提条件", "安装", "配置", "示例", "工作原理", "常见问题", "限制", "后续步骤",
            "另请参阅",
        ),
        admonitions=("注意", "提示", "警告"),
        columns=("选项", "类型", "默认值", "说明"),
        sentences=(
            "服务启动时会从环境变量中读取配置。",
            "在启动服务器之前，请在配置文件中设置`$name`。",
            "每个请求都必须在Authorization请求头中携带有效的令牌。",
            "如果构建失败，请在日志中查找第一个错误，而不是最后一个。",
            "可以放心地重复运行该命令：它只会更新已经过时的部分。",
            "本页介绍各个组件如何协同工作，以及何时使用哪一个。",
            "大多数项目都不需要修改`$name`的默认值。",
            "大文件会被拆分成较小的部分，因此不会有单个步骤运行太久。",
            "客户端会以指数退避的方式重试失败的请求。",
            "请为每个环境使用单独的API密钥，这样可以吊销其中一个而不影响其他环境。",
            "当队列已满时，新任务会等待，直到有空闲的工作进程。",
            "运行`$cmd`可以查看已安装的版本。",
            "以下示例假设你已经创建了一个项目。",
            "配置的修改会在下一次部署后生效。",
            "每当文档被创建、更新或删除时，都会发送一个Webhook。",
            "不要把密钥保存在代码仓库中，应在运行时从密钥库加载。",
            "每次推送后，搜索索引会在几秒钟内更新。",
            "旧版本的API至少会继续提供十二个月。",
        ),
    ),
}
# fmt: on

ENGLISH = LANGUAGES["en"]

OPTIONS = (
    "timeout", "max_retries", "batch_size", "cache_ttl", "log_level", "page_size",
    "workers", "region", "pool_size", "retry_delay", "max_upload_size", "webhook_secret",
)  # fmt: skip
TYPES = {"log_level": "str", "region": "str", "webhook_secret": "str", "retry_delay": "float"}
VALUES = ("30", "5", "100", "0.5", "1024", "3", "60", "250", "8", "15")
COMMANDS = (
    "acme --version", "acme doctor", "pip show acme-sdk", "npm ls @acme/sdk", "acme config list",
)  # fmt: skip
METHODS = ("list", "create", "get", "update", "delete", "search", "sync")
CODE = {
    "python": (
        "import os\n\nfrom acme import Client\n\n"
        'client = Client(api_key=os.environ["ACME_API_KEY"], $name=$value)\n'
        'result = client.$resource.$method("$slug")\nprint(result.status)',
        "from acme.testing import make_client\n\n\ndef test_${resource}_$method():\n"
        "    client = make_client($name=$value)\n"
        '    assert client.$resource.$method("$slug").ok',
    ),
    "bash": (
        "pip install acme-sdk\nacme login\nacme $resource $method --$flag $value",
        'export ACME_API_KEY="..."\nacme deploy --env staging --$flag $value\n'
        "acme logs --follow | grep $resource",
    ),
    "yaml": (
        "$resource:\n  enabled: true\n  $name: $value\n  retries: 3\n  paths:\n    - /api/$slug",
        "services:\n  app:\n    image: acme/server:latest\n    environment:\n"
        '      ACME_$upper: "$value"\n    ports:\n      - "8080:8080"',
    ),
    "json": (
        '{\n  "$name": $value,\n  "enabled": true,\n  "resource": "$resource"\n}',
        '{\n  "id": "$slug",\n  "status": "ok",\n  "items": [],\n  "next": null\n}',
    ),
    "ts": (
        'import { Client } from "@acme/sdk";\n\n'
        "const client = new Client({ apiKey: process.env.ACME_API_KEY });\n"
        'const result = await client.$resource.$method({ id: "$slug", $name: $value });\n'
        "console.log(result.status);",
        "export interface ${Resource}Options {\n  $name?: number;\n  enabled: boolean;\n}",
    ),
}


def nbytes(parts: list[str]) -> int:
    """The UTF-8 size of `parts` joined by blank lines, as the files are written."""
    return sum(len(part.encode()) for part in parts) + 2 * max(0, len(parts) - 1)


def sentences(rng: random.Random, lang: Language, count: int) -> list[str]:
    """`count` different sentences of `lang`, their placeholders filled in."""
    return [
        string.Template(text).safe_substitute(name=rng.choice(OPTIONS), cmd=rng.choice(COMMANDS))
        for text in rng.sample(lang.sentences, count)
    ]


def sentence(rng: random.Random, lang: Language) -> str:
    return sentences(rng, lang, 1)[0]


def paragraph(rng: random.Random, lang: Language, low: int = 2, high: int = 5) -> str:
    return lang.sep.join(sentences(rng, lang, rng.randint(low, high)))


def code_block(rng: random.Random, topic: str) -> str:
    language = rng.choice(tuple(CODE))
    name = rng.choice(OPTIONS)
    resource = topic.lower().replace(" ", "_")
    text = string.Template(rng.choice(CODE[language])).safe_substitute(
        name=name,
        upper=name.upper(),
        flag=name.replace("_", "-"),
        value=rng.choice(VALUES),
        resource=resource,
        Resource=topic.title().replace(" ", ""),
        method=rng.choice(METHODS),
        slug=resource.replace("_", "-"),
    )
    return f"```{language}\n{text}\n```"


def table(rng: random.Random, lang: Language) -> str:
    rows = ["| " + " | ".join(lang.columns) + " |", "| --- | --- | --- | --- |"]
    for name in rng.sample(OPTIONS, rng.randint(3, 6)):
        kind = TYPES.get(name, "int")
        default = f"`{rng.choice(VALUES)}`" if kind != "str" else "—"
        rows.append(f"| `{name}` | `{kind}` | {default} | {sentence(rng, lang)} |")
    return "\n".join(rows)


def admonition(rng: random.Random, lang: Language) -> str:
    kind = rng.randrange(3)
    label = lang.admonitions[kind]
    body = paragraph(rng, lang, 1, 2)
    return f'!!! {("note", "tip", "warning")[kind]} "{label}"\n\n    {body}'


def bullet_list(rng: random.Random, lang: Language) -> str:
    numbered = rng.random() < 0.3
    items = sentences(rng, lang, rng.randint(3, 7))
    return "\n".join(f"{n}. {item}" if numbered else f"- {item}" for n, item in enumerate(items, 1))


def links(rng: random.Random, pages: list[tuple[str, str]], here: str) -> str:
    """A "see also" list of links to pages of the same language, relative to `here`."""
    picked = rng.sample(pages, min(len(pages), rng.randint(2, 4)))
    up = "../" * here.count("/")
    return "\n".join(f"- [{title}]({up}{path})" for path, title in picked)


def block(rng: random.Random, lang: Language, topic: str) -> str:
    kind = rng.choice(("paragraph", "paragraph", "list", "code", "table", "admonition"))
    if kind == "list":
        return bullet_list(rng, lang)
    if kind == "code":
        return code_block(rng, topic)
    if kind == "table":
        return table(rng, lang)
    if kind == "admonition":
        return admonition(rng, lang)
    return paragraph(rng, lang)


def page(
    rng: random.Random, code: str, title: str, topic: str, here: str, pages: list[tuple[str, str]]
) -> str:
    """One page of about a random size; `here` is its path under docs/<code>/."""
    lang = LANGUAGES[code]
    if rng.random() < LONG_PAGE_SHARE:
        target = rng.randint(*LONG_PAGE)
    else:
        target = int(rng.triangular(*SMALL_PAGE))
    tags = ", ".join(sorted({topic.lower(), rng.choice(SECTIONS)}))
    description = sentence(rng, lang).replace('"', "'")
    parts = [
        f'---\ntitle: "{title}"\ndescription: "{description}"\nlang: {code}\ntags: [{tags}]\n---',
        f"# {title}",
        paragraph(rng, lang),
    ]
    # Sections of a few blocks under the headings in a random order, "See also" kept for last.
    headings = itertools.cycle(rng.sample(lang.headings[:-1], len(lang.headings) - 1))
    while nbytes(parts) < target:
        parts.append(f"## {next(headings)}")
        for _ in range(rng.randint(3, 6)):
            if rng.random() < 0.1:
                parts.append(f"### {rng.choice(lang.aspects)}")
            parts.append(block(rng, lang, topic))
            if nbytes(parts) >= target:
                break
    if rng.random() < 0.3:
        parts += [f"## {lang.headings[-1]}", links(rng, pages, here)]
    return "\n\n".join(parts) + "\n"


def english_pages(count: int) -> list[tuple[str, int, int]]:
    """(section/slug, topic index, aspect index) of `count` English pages, in site order."""
    found: list[tuple[str, int, int]] = []
    round_ = 0
    while len(found) < count:
        suffix = f"-{round_ + 1}" if round_ else ""
        for aspect, aspect_name in enumerate(ENGLISH.aspects):
            for section in SECTIONS:
                for topic, topic_name in enumerate(ENGLISH.topics):
                    slug = f"{topic_name}-{aspect_name}".lower().replace(" ", "-")
                    found.append((f"{section}/{slug}{suffix}", topic, aspect))
        round_ += 1
    return found[:count]


def page_counts(pages: int) -> dict[str, int]:
    """Pages per language, English the rest after the translations' shares."""
    total = sum(WEIGHTS.values())
    counts = {code: int(pages * weight / total) for code, weight in WEIGHTS.items()}
    counts["en"] = pages - sum(count for code, count in counts.items() if code != "en")
    return counts


def docs_site(rng: random.Random, pages: int) -> dict[str, str]:
    """Path -> text of every docs page: English's, then each translation's subset of them."""
    counts = page_counts(pages)
    english = english_pages(counts["en"])
    files: dict[str, str] = {}
    for code, count in counts.items():
        lang = LANGUAGES[code]
        everything = range(len(english))
        keep = everything if code == "en" else sorted(rng.sample(everything, count))
        chosen = [english[index] for index in keep]
        titles = [
            (f"{path}.md", f"{lang.topics[topic]}{lang.colon}{lang.aspects[aspect]}")
            for path, topic, aspect in chosen
        ]
        for (path, title), (_, topic, _) in zip(titles, chosen, strict=True):
            topic_en = ENGLISH.topics[topic]
            files[f"docs/{code}/{path}"] = page(rng, code, title, topic_en, path, titles)
    return files


def changelog(rng: random.Random, target: int) -> str:
    parts = ["# Changelog", "All notable changes to this project are documented in this file."]
    major, minor, patch, date = 12, 40, 9, datetime.date(2025, 6, 2)
    while True:
        entry = [f"## [{major}.{minor}.{patch}] - {date}"]
        for kind in rng.sample(("Added", "Changed", "Fixed", "Deprecated", "Security"), 3):
            lines = [changelog_line(rng) for _ in range(rng.randint(1, 6))]
            entry += [f"### {kind}", "\n".join(lines)]
        if rng.random() < 0.2:
            entry.append(code_block(rng, rng.choice(ENGLISH.topics)))
        if not _append(parts, entry, target):
            return "\n\n".join(parts) + "\n"
        date -= datetime.timedelta(days=rng.randint(3, 20))
        patch -= 1
        if patch < 0:
            minor, patch = minor - 1, rng.randint(2, 9)
        if minor < 0:
            major, minor = major - 1, 40


def changelog_line(rng: random.Random) -> str:
    pull = rng.randint(1000, 9999)
    link = f"[#{pull}](https://github.com/acme/acme/pull/{pull})"
    return f"- {rng.choice(ENGLISH.topics)}: {sentence(rng, ENGLISH)} ({link})"


def release_notes(rng: random.Random, target: int) -> str:
    parts = ["---\ntitle: Release notes\n---", "# Release notes", paragraph(rng, ENGLISH)]
    major, minor = 12, 40
    while True:
        entry = [f"## Version {major}.{minor}", paragraph(rng, ENGLISH, 3, 6), "### Highlights"]
        entry.append(bullet_list(rng, ENGLISH))
        entry += [paragraph(rng, ENGLISH), code_block(rng, rng.choice(ENGLISH.topics))]
        if rng.random() < 0.3:
            entry += ["### Breaking changes", admonition(rng, ENGLISH), paragraph(rng, ENGLISH)]
        if not _append(parts, entry, target):
            return "\n\n".join(parts) + "\n"
        minor -= 1
        if minor < 0:
            major, minor = major - 1, 40


def api_reference(rng: random.Random, target: int) -> str:
    parts = ["# API reference", paragraph(rng, ENGLISH)]
    names = [
        (topic.lower().replace(" ", "_"), method + variant)
        for variant in ("", "_many", "_async", "_by_id", "_batch", "_raw")
        for topic in ENGLISH.topics
        for method in METHODS
    ]
    for resource, method in names:
        entry = [f"## `client.{resource}.{method}()`", paragraph(rng, ENGLISH)]
        entry += [
            "### Parameters",
            table(rng, ENGLISH),
            "### Returns",
            paragraph(rng, ENGLISH, 1, 2),
        ]
        entry += ["### Example", code_block(rng, resource), code_block(rng, resource)]
        entry += ["### Errors", bullet_list(rng, ENGLISH)]
        if not _append(parts, entry, target):
            break
    return "\n\n".join(parts) + "\n"


def _append(parts: list[str], entry: list[str], target: int) -> bool:
    """Add `entry` if the text stays within `target` bytes; False when it would not."""
    if nbytes(parts + entry) > target:
        return False
    parts.extend(entry)
    return True


LARGE = (
    ("CHANGELOG.md", changelog),
    ("docs/en/release-notes.md", release_notes),
    ("docs/en/reference/api.md", api_reference),
)


def large_files(rng: random.Random, count: int) -> dict[str, str]:
    files = {}
    for number in range(count):
        if number < len(LARGE):
            path, make = LARGE[number]
        else:  # the references of older API versions
            path, make = f"docs/en/reference/api-v{number - 1}.md", api_reference
        files[path] = make(rng, rng.randint(*LARGE_FILE))
    return files


def root_files(rng: random.Random) -> dict[str, str]:
    languages = "\n".join(f"  - {code}" for code in LANGUAGES)
    return {
        "README.md": f"# Acme\n\n{paragraph(rng, ENGLISH)}\n\n## Documentation\n\n"
        f"{bullet_list(rng, ENGLISH)}\n\n{code_block(rng, 'Command line')}\n",
        "CONTRIBUTING.md": f"# Contributing\n\n{paragraph(rng, ENGLISH)}\n\n## Translations\n\n"
        f"{paragraph(rng, ENGLISH)}\n\n{bullet_list(rng, ENGLISH)}\n",
        "mkdocs.yml": f"site_name: Acme\ndocs_dir: docs\nlanguages:\n{languages}\n",
    }


def git(path: Path, *args: str) -> str:
    # Fixed names and dates: the same seed gives the same commit.
    env = os.environ | {
        "GIT_AUTHOR_NAME": "Docs",
        "GIT_AUTHOR_EMAIL": "docs@example.com",
        "GIT_AUTHOR_DATE": "2025-01-01T00:00:00Z",
        "GIT_COMMITTER_NAME": "Docs",
        "GIT_COMMITTER_EMAIL": "docs@example.com",
        "GIT_COMMITTER_DATE": "2025-01-01T00:00:00Z",
    }
    command = ["git", "-C", str(path), "-c", "commit.gpgsign=false", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout


def write_repository(path: Path, files: dict[str, str]) -> str:
    """Write `files` (path -> text) and commit them on BRANCH; the commit's sha."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", BRANCH)
    for relative, text in files.items():
        target = path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "Documentation site")
    return git(path, "rev-parse", "HEAD").strip()


def report(pages: dict[str, str], large: dict[str, str], files: dict[str, str]) -> None:
    print(f"{'language':<10}{'pages':>7}{'KB':>9}")
    for code in LANGUAGES:
        mine = [nbytes([text]) for path, text in pages.items() if path.startswith(f"docs/{code}/")]
        print(f"{code:<10}{len(mine):>7}{sum(mine) / 1024:>9.0f}")
    for path, text in large.items():
        print(f"large file {path}: {nbytes([text]):,} bytes")
    markdown = [nbytes([text]) for path, text in files.items() if path.endswith(".md")]
    print(f"markdown files: {len(markdown)}, {sum(markdown):,} bytes in all")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", type=Path, help="where to create the repository (new or empty)")
    parser.add_argument("--pages", type=int, default=2400, help="docs pages (2400)")
    parser.add_argument("--large", type=int, default=3, help="very large files (3)")
    parser.add_argument("--seed", type=int, default=13, help="random seed (13)")
    args = parser.parse_args()
    if args.pages < 1 or args.large < 0:
        parser.error("--pages must be at least 1 and --large at least 0")
    if args.path.exists() and (not args.path.is_dir() or any(args.path.iterdir())):
        sys.exit(f"{args.path} already exists and is not an empty folder: give a new path")
    rng = random.Random(args.seed)
    pages = docs_site(rng, args.pages)
    large = large_files(rng, args.large)
    files = pages | large | root_files(rng)
    sha = write_repository(args.path, files)
    print(f"{args.path}: branch {BRANCH}, commit {sha[:12]}")
    report(pages, large, files)


if __name__ == "__main__":
    main()
