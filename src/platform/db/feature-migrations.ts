// The one index of every feature's migrations. Each module registers its migrations when
// loaded; migrate() loads this first, so every entry point (server, CLI, tests) applies and
// recognises the same ordered list whatever else it imported.
import '../jobs/schema.js';
import '../wallet/db.js';
import '../../media/record/vods.js';
import '../../chat/supporters/db.js';
import '../../chat/moderation/db.js';
import '../../media/abr/settings.js';
import '../../media/control/db.js';
import '../../media/clips/db.js';
