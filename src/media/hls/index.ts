export { createHlsService, SOURCE_RENDITION, MULTIVARIANT_NAME, MEDIA_PLAYLIST_NAME, type HlsService, type HlsServiceDeps, type HlsStats, type HlsClock, type RenditionMapper } from './service.js';
export { HlsPackager, type HlsPart, type HlsSegment, type HlsInit, type PackagerOptions } from './packager.js';
export { renderMediaPlaylist, renderMultivariantPlaylist, type SubtitlesRendition, type MediaPlaylistModel, type MultivariantModel } from './playlist.js';
export { parsePlaylistQuery, checkRange, advancePartLimit } from './blocking.js';
