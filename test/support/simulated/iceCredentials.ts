/**
 * A connection's ICE credentials (ufrag and pwd), and the ICE restarts that
 * replace them: webrtc-pc `restartIce()` and [[LocalIceCredentialsToReplace]].
 */
import type { ParsedSdp } from './sdp'

export type Credentials = { ufrag: string; pwd: string }

/** The credentials of one connection's ICE generations; `create` makes a fresh pair. */
export class IceCredentials {
  /** The first generation's credentials. */
  private readonly initial: Credentials
  /** Credentials for the next offer after restartIce(). */
  private restart: Credentials | null = null
  /** The local ufrag that restartIce() asked to replace ([[LocalIceCredentialsToReplace]]). */
  private toReplace: string | null = null
  /** Credentials of our answer to a remote offer that restarted ICE. */
  private answer: { remoteUfrag: string; creds: Credentials } | null = null

  constructor(private readonly create: () => Credentials) {
    this.initial = create()
  }

  /** Whether a restart waits to be offered (negotiation is needed). */
  get restarting(): boolean {
    return this.restart !== null
  }

  /** restartIce() with `localUfrag` in use: the next offer has new credentials. */
  restartFrom(localUfrag: string): void {
    this.toReplace = localUfrag
    if (!this.restart || this.restart.ufrag === localUfrag) this.restart = this.create()
  }

  /** The credentials of a new offer, given the current local description. */
  forOffer(currentLocal: ParsedSdp | undefined): Credentials {
    return this.restart ?? credentialsOf(currentLocal) ?? this.initial
  }

  /** The credentials of an answer to `offer`, given the current descriptions. */
  forAnswer(offer: ParsedSdp, currentRemote: ParsedSdp | undefined, currentLocal: ParsedSdp | undefined): Credentials {
    const previousRemote = currentRemote?.ufrag
    if (previousRemote !== undefined && previousRemote !== offer.ufrag) {
      // The remote restarted ICE: so do we.
      if (this.answer?.remoteUfrag !== offer.ufrag) {
        this.answer = { remoteUfrag: offer.ufrag, creds: this.restart ?? this.create() }
      }
      return this.answer.creds
    }
    return credentialsOf(currentLocal) ?? this.initial
  }

  /** A description became current: a restart it carried is done. */
  applied(localUfrag: string): void {
    if (this.restart && localUfrag !== this.toReplace) {
      this.restart = null
      this.toReplace = null
    }
  }
}

function credentialsOf(description: ParsedSdp | undefined): Credentials | null {
  return description ? { ufrag: description.ufrag, pwd: description.pwd } : null
}
