import type { MediaStreamLike, MediaStreamTrackLike } from './webrtc'

/**
 * What this participant sends: the camera/microphone stream and the screen
 * share, as the media machine holds them and the peer machines send them.
 */
export type LocalTracks = {
  /** Camera and microphone, in one stream so the remote gathers them together. */
  stream: MediaStreamLike | null
  audio: MediaStreamTrackLike | null
  video: MediaStreamTrackLike | null
  screenStream: MediaStreamLike | null
  screen: MediaStreamTrackLike | null
}

export const NO_TRACKS: LocalTracks = { stream: null, audio: null, video: null, screenStream: null, screen: null }
