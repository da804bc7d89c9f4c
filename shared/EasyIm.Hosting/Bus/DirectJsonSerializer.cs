using System.Diagnostics.CodeAnalysis;
using System.Net.Mime;
using System.Text.Json;
using System.Text.Json.Nodes;
using MassTransit;
using MassTransit.Serialization;

namespace EasyIm.Hosting.Bus;

/// <summary>
/// The bus's wire format: MassTransit's raw JSON (<c>application/json</c>: the message alone, with
/// MassTransit's message id, request id, response address and message types as transport headers),
/// read straight from the body into the consumer's message type. MassTransit's own deserializers
/// first parse every body into a <see cref="JsonDocument"/> (its envelope, or the raw message) and then
/// convert that into the type: a sixth of the standalone server's CPU at 10,000 chat messages a
/// second (docs/performance.md). Bodies in MassTransit's envelope format
/// (<c>application/vnd.masstransit+json</c>) are still read, by MassTransit's deserializer.
/// </summary>
public sealed class DirectJsonSerializerFactory : ISerializerFactory
{
    public static readonly DirectJsonSerializerFactory Instance = new();

    private readonly DirectJsonMessageSerializer _serializer = new();

    private DirectJsonSerializerFactory()
    {
    }

    public ContentType ContentType => DirectJsonMessageSerializer.JsonContentType;

    public IMessageSerializer CreateSerializer() => _serializer;

    public IMessageDeserializer CreateDeserializer() => _serializer;
}

/// <inheritdoc cref="DirectJsonSerializerFactory"/>
public sealed class DirectJsonMessageSerializer : IMessageSerializer, IMessageDeserializer
{
    public static readonly ContentType JsonContentType = SystemTextJsonRawMessageSerializer.JsonContentType;

    /// <summary>
    /// Headers go as transport headers (request/response needs them). Not <see cref="RawSerializerOptions.AnyMessageType"/>:
    /// an endpoint with consumers of several types must hand a message only to the consumers of its type.
    /// </summary>
    internal const RawSerializerOptions Raw = RawSerializerOptions.AddTransportHeaders;

    private readonly SystemTextJsonRawMessageSerializer _raw = new(Raw);

    public ContentType ContentType => JsonContentType;

    public void Probe(ProbeContext context) => _raw.Probe(context);

    public MessageBody GetMessageBody<T>(SendContext<T> context) where T : class => _raw.GetMessageBody(context);

    public MessageBody GetMessageBody(string text) => _raw.GetMessageBody(text);

    public ConsumeContext Deserialize(ReceiveContext receiveContext) =>
        new BodyConsumeContext(receiveContext, Deserialize(receiveContext.Body, receiveContext.TransportHeaders, receiveContext.InputAddress));

    public SerializerContext Deserialize(MessageBody body, Headers headers, Uri? destinationAddress = null) =>
        new DirectJsonSerializerContext(body, new RawMessageContext(headers, destinationAddress, Raw), headers.GetMessageTypes(), ContentType);
}

/// <summary>
/// A received raw JSON body, deserialized into whichever of its message types a consumer asks for, in
/// one pass from the bytes (MassTransit's consume context keeps what it got per type).
/// </summary>
internal sealed class DirectJsonSerializerContext(MessageBody body, MessageContext messageContext, string[] messageTypes, ContentType contentType)
    : SystemTextJsonSerializerContext(SystemTextJsonMessageSerializer.Instance, SystemTextJsonMessageSerializer.Options, contentType,
        messageContext, messageTypes, message: body)
{
    private JsonElement? _element;

    /// <summary>The body as a JSON element, for the rare paths (forwarding, faults, <see cref="JsonObject"/>).</summary>
    private JsonElement Element => _element ??= JsonSerializer.Deserialize<JsonElement>(body.GetBytes(), Options);

    public override bool TryGetMessage<T>(out T? message) where T : class
    {
        if (typeof(T) == typeof(JsonObject))
        {
            message = JsonObject.Create(Element) as T;
            return message is not null;
        }
        if (!IsSupportedMessageType<T>())
        {
            message = null;
            return false;
        }
        message = JsonSerializer.Deserialize<T>(body.GetBytes(), Options);
        return message is not null;
    }

    public override bool TryGetMessage(Type messageType, [NotNullWhen(true)] out object? message)
    {
        message = JsonSerializer.Deserialize(body.GetBytes(), messageType, Options);
        return message is not null;
    }

    public override bool IsSupportedMessageType<T>() => IsSupported(MessageUrn.ForTypeString<T>());

    public override bool IsSupportedMessageType(Type messageType) => IsSupported(MessageUrn.ForTypeString(messageType));

    private bool IsSupported(string typeUrn)
    {
        if (SupportedMessageTypes.Length == 0)
            return true;
        foreach (var supported in SupportedMessageTypes)
            if (typeUrn.Equals(supported, StringComparison.OrdinalIgnoreCase))
                return true;
        return false;
    }

    public override IMessageSerializer GetMessageSerializer() =>
        new SystemTextJsonBodyMessageSerializer(Element, ContentType, Options, DirectJsonMessageSerializer.Raw);

    public override IMessageSerializer GetMessageSerializer(object message, string[] messageTypes)
    {
        ArgumentNullException.ThrowIfNull(message);
        return new SystemTextJsonBodyMessageSerializer(message, ContentType, Options, DirectJsonMessageSerializer.Raw);
    }

    public override IMessageSerializer GetMessageSerializer<T>(MessageEnvelope envelope, T message)
    {
        var serializer = new SystemTextJsonBodyMessageSerializer(envelope, ContentType, Options, DirectJsonMessageSerializer.Raw);
        serializer.Overlay(message);
        return serializer;
    }
}
