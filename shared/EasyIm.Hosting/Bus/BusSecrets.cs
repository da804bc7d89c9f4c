using System.Collections.Concurrent;
using System.Reflection;
using EasyIm.Contracts;
using MassTransit;

namespace EasyIm.Hosting.Bus;

/// <summary>
/// Keeps passwords and tokens from resting on the broker (<see cref="CarriesSecretAttribute"/> messages): they are
/// sent non-durable (RabbitMQ keeps them in memory, never writes them to disk) with a time to live of the request
/// timeout (a message nobody takes expires instead of waiting in a queue), and a consumer that fails on one answers
/// <see cref="RequestRejected"/> 503 and drops it: MassTransit's fault would carry the message back to the caller and
/// move it to the queue's <c>_error</c> queue, password and all.
/// </summary>
public static class BusSecrets
{
    private static readonly ConcurrentDictionary<Type, bool> Secret = new();
    private static readonly ConcurrentDictionary<Type, bool> SecretContext = new();

    /// <summary>Whether messages of <paramref name="type"/> carry a secret.</summary>
    public static bool Carries(Type type) => Secret.GetOrAdd(type, t => t.GetCustomAttribute<CarriesSecretAttribute>() is not null);

    /// <summary>Whether a send context (a <c>SendContext&lt;T&gt;</c> of some concrete class) is for a message that carries a secret.</summary>
    private static bool CarriesSecret(SendContext context) => SecretContext.GetOrAdd(context.GetType(), static type => type.GetInterfaces()
        .Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(SendContext<>) && Carries(i.GetGenericArguments()[0])));

    /// <summary>Sends and publishes of messages with secrets: non-durable, expiring with the request timeout.</summary>
    public static void Configure(IBusFactoryConfigurator cfg)
    {
        cfg.ConfigureSend(send => send.UseExecute(context => MakeTransient(context)));
        cfg.ConfigurePublish(publish => publish.UseExecute(context => MakeTransient(context)));
    }

    /// <summary>
    /// The registration of a consumer of <typeparamref name="T"/>, a message that carries a secret: its failures are
    /// answered 503 and the message dropped (<see cref="KeepSecretsOutOfFaults{TConsumer, T}"/>), never faulted.
    /// </summary>
    public static Action<IRegistrationContext, IConsumerConfigurator<TConsumer>> KeepOutOfFaults<TConsumer, T>()
        where TConsumer : class, IConsumer<T>
        where T : class =>
        (_, consumer) => consumer.ConsumerMessage<T>(message => message.UseFilter(new KeepSecretsOutOfFaults<TConsumer, T>()));

    private static void MakeTransient(SendContext context)
    {
        if (!CarriesSecret(context))
            return;
        context.Durable = false;
        var limit = BusSetup.RequestTimeout.Value;
        if (context.TimeToLive is not { } ttl || ttl > limit)
            context.TimeToLive = limit;
    }
}

/// <summary>
/// Around a consumer of a message that carries a secret, inside MassTransit's fault handling: a failure is answered
/// <see cref="RequestRejected"/> 503 (to a request) and the message dropped, logged without its content. Outside the
/// consumer it would be too late: the consumer's pipe sends the caller a <c>Fault&lt;T&gt;</c>, message included, as it
/// rethrows, and the receive transport moves the message to <c>_error</c>. Registered per consumer
/// (<see cref="BusSecrets.KeepOutOfFaults{TConsumer, T}"/>).
/// </summary>
public sealed class KeepSecretsOutOfFaults<TConsumer, T> : IFilter<ConsumerConsumeContext<TConsumer, T>>
    where TConsumer : class
    where T : class
{
    public async Task Send(ConsumerConsumeContext<TConsumer, T> context, IPipe<ConsumerConsumeContext<TConsumer, T>> next)
    {
        try
        {
            await next.Send(context);
        }
        catch (Exception ex) when (!context.CancellationToken.IsCancellationRequested)
        {
            LogContext.Error?.Log("Handling a {MessageType} failed ({ErrorType}: {Error}); the caller is answered 503 and the message, which carries a secret, is dropped",
                typeof(T).Name, ex.GetType().Name, ex.InnerException?.Message ?? ex.Message);
            if (context.ResponseAddress is not null)
                await context.RespondAsync(new RequestRejected(503, "the service failed to handle this; try again"));
        }
    }

    public void Probe(ProbeContext context) => context.CreateFilterScope("keepSecretsOutOfFaults");
}
