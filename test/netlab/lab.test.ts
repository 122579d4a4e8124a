import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { allowOnlyTcpTo, blackholeSignaling, blockUdp, changeAddress, cutLink, randomLoss, rateCap } from './faults'
import { createLab, labNamespaces, type Lab, type Participant } from './lab'
import { canConnect, canPing, canStun, waitFor } from './probes'
import { startCoturn, TURN_PORT, type LabServer } from './services'
import { describeLab } from './suite'

describeLab('the network lab', () => {
  let lab: Lab
  let turn: LabServer
  let home: Participant
  beforeAll(async () => {
    lab = createLab({ nats: ['eim', 'symmetric'] })
    home = lab.participants[0]
    turn = await startCoturn(lab, { secret: 'lab-test-secret-0123' })
  })
  afterAll(async () => {
    await turn?.stop()
    lab?.teardown()
  })

  const server = () => lab.server.address
  const reachable = async () => ({
    ping: await canPing(home.home, server()),
    tcp: await canConnect(home.home, server(), TURN_PORT),
    udp: await canStun(home.home, server(), TURN_PORT),
  })

  it('builds the topology with every name under the run prefix and no link out of the lab', () => {
    expect(lab.id).toMatch(/^mc[0-9a-f]{4}$/)
    expect(
      labNamespaces()
        .filter((ns) => ns.startsWith(`${lab.id}-`))
        .sort(),
    ).toEqual([lab.internet, lab.server.ns, ...lab.participants.flatMap((p) => [p.router, p.home])].sort())
    for (const p of lab.participants) {
      expect(lab.exec(p.home, 'ip', ['route', 'show', 'default'])).toContain(`via ${p.gateway}`)
      // Nothing but the lab's own networks is routed anywhere.
      const routes = lab.exec(p.router, 'ip', ['route', 'show'])
      expect(routes).not.toContain('default')
    }
  })

  it('lets a home reach the server through its NAT over ICMP, TCP and UDP, but not the server reach a home', async () => {
    for (const p of lab.participants) expect(await canPing(p.home, server())).toBe(true)
    expect(await reachable()).toEqual({ ping: true, tcp: true, udp: true })
    expect(await canPing(lab.server.ns, home.address)).toBe(false)
    expect(await canPing(lab.server.ns, home.wanAddress)).toBe(false)
  })

  it('cuts a link both ways and restores it', async () => {
    const cut = cutLink(lab, home)
    expect(await reachable()).toEqual({ ping: false, tcp: false, udp: false })
    expect(await canPing(home.home, home.gateway)).toBe(false)
    // The other participant is not affected.
    expect(await canPing(lab.participants[1].home, server())).toBe(true)
    cut.restore()
    expect(await reachable()).toEqual({ ping: true, tcp: true, udp: true })
  })

  it('blocks UDP only', async () => {
    const fault = blockUdp(lab, home)
    expect(await reachable()).toEqual({ ping: true, tcp: true, udp: false })
    fault.restore()
    expect(await canStun(home.home, server(), TURN_PORT)).toBe(true)
  })

  it('lets only TCP to the TURN server through', async () => {
    const fault = allowOnlyTcpTo(lab, home, server(), [TURN_PORT])
    expect(await reachable()).toEqual({ ping: false, tcp: true, udp: false })
    fault.restore()
    expect(await reachable()).toEqual({ ping: true, tcp: true, udp: true })
  })

  it('drops packets at random (100 % drops everything, 0 % nothing)', async () => {
    const all = randomLoss(lab, home, 100)
    expect(await canPing(home.home, server())).toBe(false)
    all.restore()
    const none = randomLoss(lab, home, 0)
    expect(await canPing(home.home, server())).toBe(true)
    none.restore()
  })

  it('caps the uplink rate with tbf and removes the cap', async () => {
    const cap = rateCap(lab, home, 500)
    expect(lab.exec(home.router, 'tc', ['qdisc', 'show', 'dev', home.wanIf])).toMatch(/tbf .*rate 500Kbit/)
    expect(await canPing(home.home, server())).toBe(true)
    cap.restore()
    expect(lab.exec(home.router, 'tc', ['qdisc', 'show', 'dev', home.wanIf])).not.toContain('tbf')
  })

  it('changes the home address, keeping the home online, and moves back', async () => {
    const before = home.address
    const move = changeAddress(lab, home)
    expect(home.address).not.toBe(before)
    const addresses = lab.exec(home.home, 'ip', ['-4', '-o', 'addr', 'show', 'dev', home.homeIf])
    expect(addresses).toContain(`${home.address}/24`)
    expect(addresses).not.toContain(`${before}/24`)
    expect(await reachable()).toEqual({ ping: true, tcp: true, udp: true })
    move.restore()
    expect(home.address).toBe(before)
    expect(await canPing(home.home, server())).toBe(true)
  })

  it('blackholes the signaling port without a reset, leaving the rest alone', async () => {
    const fault = blackholeSignaling(lab, home, TURN_PORT)
    // A connect that gets no RST hangs until the probe's own 1 s timeout.
    expect(await reachable()).toEqual({ ping: true, tcp: false, udp: true })
    fault.restore()
    expect(await canConnect(home.home, server(), TURN_PORT)).toBe(true)
  })

  it('tears down every namespace and process it made, and the next lab removes a crashed run’s leftovers', async () => {
    lab.teardown()
    expect(labNamespaces().filter((ns) => ns.startsWith(`${lab.id}-`))).toEqual([])
    // coturn was killed with its namespace (this resolves once it is reaped).
    expect(await turn.process.exited).toBeNull()

    // What a crashed run leaves: a namespace with the common prefix and a process inside.
    const stale = 'mc0dead-crashed'.replace('0dead', randomBytes(2).toString('hex'))
    execFileSync('ip', ['netns', 'add', stale])
    const sleeper = spawn('ip', ['netns', 'exec', stale, 'sleep', '600'], { stdio: 'ignore' })
    const gone = new Promise((resolve) => sleeper.once('exit', resolve))
    await waitFor(() => execFileSync('ip', ['netns', 'pids', stale], { encoding: 'utf8' }).trim() !== '', { what: 'the sleeper to run' })
    const next = createLab({ nats: ['eim'] })
    try {
      expect(labNamespaces()).not.toContain(stale)
      await gone
    } finally {
      next.teardown()
    }
    expect(labNamespaces().filter((ns) => ns.startsWith(`${next.id}-`))).toEqual([])
  })
})
