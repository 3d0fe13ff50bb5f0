// The aedes peer driven by the mqtt npm client (MQTT.js), as an application
// would use it: QoS 1 publish, the callback fires on PUBACK. Costs more
// generator CPU per message than the raw peer (mqtt-peer.ts), so the raw
// peer gives the broker's ceiling and this one the figure with the usual
// client; both are in the table.
import mqtt, { type MqttClient } from 'mqtt'
import type { Kind } from './imwire-peer.js'

export class MqttJsPeer {
  private inFlight = 0
  closed = false
  onAnswer: (sentAtUs: number, ok: boolean) => void = () => {}

  private constructor(
    private readonly client: MqttClient,
    private readonly topic: string,
    private readonly payload: Buffer,
  ) {
    client.on('close', () => {
      this.closed = true
    })
    client.on('error', () => {})
  }

  static async connect(kind: Kind, address: string, clientId: string, topic: string, payload: Uint8Array) {
    const url = kind === 'tcp' ? `mqtt://${address}` : address
    const client = await mqtt.connectAsync(url, {
      clientId,
      clean: true,
      keepalive: 0,
      reconnectPeriod: 0,
      protocolVersion: 4,
      ...(kind === 'ws' ? { wsOptions: { perMessageDeflate: false } } : {}),
    })
    return new MqttJsPeer(client, topic, Buffer.from(payload))
  }

  get inflight(): number {
    return this.inFlight
  }

  send(sentAtUs: number): void {
    this.inFlight++
    this.client.publish(this.topic, this.payload, { qos: 1 }, (err) => {
      this.inFlight--
      this.onAnswer(sentAtUs, err === undefined || err === null)
    })
  }

  close(): void {
    this.closed = true
    this.client.end(true)
  }
}
