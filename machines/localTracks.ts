/**
 * What this participant sends: the camera/microphone stream and the screen
 * share, as the media machine holds them and the peer machines send them.
 */
export type LocalTracks = {
  /** Camera and microphone, in one stream so the remote gathers them together. */
  stream: MediaStream | null
  audio: MediaStreamTrack | null
  video: MediaStreamTrack | null
  screenStream: MediaStream | null
  screen: MediaStreamTrack | null
}

export const NO_TRACKS: LocalTracks = { stream: null, audio: null, video: null, screenStream: null, screen: null }
