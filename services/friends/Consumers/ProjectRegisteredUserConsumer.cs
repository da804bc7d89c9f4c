using EasyIm.Contracts.Auth;
using EasyIm.Friends.Users;
using MassTransit;

namespace EasyIm.Friends.Consumers;

/// <summary>Keeps the users projection: a registered user becomes searchable and invitable.</summary>
public sealed class ProjectRegisteredUserConsumer(UserDirectory users) : IConsumer<UserRegistered>
{
    public Task Consume(ConsumeContext<UserRegistered> context)
    {
        var user = context.Message;
        return users.UpsertAsync(new UserProfile(user.UserId, user.Account, user.Nickname, user.Avatar), context.CancellationToken);
    }
}
