using System.Globalization;
using System.Text.Json;
using EasyIm.Contracts.Auth;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Messaging;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Http;
using EasyIm.Gateway.Wire;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace EasyIm.Gateway.Apis;

/// <summary>easyim's friend routes, plus the pending-requests list and reject. Every route needs the caller's access token.</summary>
public static class FriendsApi
{
    public sealed record ListData<T>(int Total, IReadOnlyList<T> Items);
    public sealed record UserItem(string Id, string Account, string Nickname, string Avatar);
    public sealed record FriendRequestItem(string Id, string FromUserId, string Account, string Nickname, string Msg, DateTimeOffset CreatedAt);
    public sealed record IdData(string Id);
    public sealed record AcceptedData(string Id, string FriendId);

    public static RouteGroupBuilder MapFriendsApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/user").WithTags("Friends");
        api.MapGet("/friends", Friends)
            .WithSummary("My friends: {total, items:[{id, account, nickname, avatar}]}");
        api.MapPost("/friend/add", Add)
            .WithSummary("Invite a user to be my friend; answers the request id")
            .WithDescription("JSON body: {to_user_id, msg? (at most 256 characters, no control characters but line breaks)}. " +
                "The invitee's live connections get FRIEND_INVITE. 429 while 100 of my requests wait for an answer (Friends:MaxPendingFriendRequests).");
        api.MapPost("/friend/accept", Accept)
            .WithSummary("Accept a friend request made to me")
            .WithDescription("JSON body: {id} (the request), or {from_user_id} (the inviter). The inviter's live connections get FRIEND_AGREE.");
        api.MapPost("/friend/reject", Reject)
            .WithSummary("Reject a friend request made to me").WithDescription("JSON body: {id}");
        api.MapPost("/friend/remove", Remove)
            .WithSummary("End a friendship, for both sides").WithDescription("JSON body: {friend_id}");
        api.MapPost("/friend/block", Block)
            .WithSummary("Block a user: their messages, friend and group invitations and typing to me are refused")
            .WithDescription("JSON body: {user_id}. They are told only that it is not allowed (chat FAIL \"you are not allowed to send messages " +
                "to this user\", HTTP 403), never that they are blocked; a friendship stays, and a pending invitation of theirs to me is declined. " +
                "Blocking again changes nothing. 429 past Friends:MaxBlockedUsers (1,000).");
        api.MapPost("/friend/unblock", Unblock)
            .WithSummary("Lift a block").WithDescription("JSON body: {user_id}. 404 when that user is not blocked.");
        api.MapGet("/friend/blocks", Blocks)
            .WithSummary("The users I block, newest first: {total, items:[{id, account, nickname, avatar}]}");
        api.MapGet("/friend/requests", Requests)
            .WithSummary("Pending friend requests to me, newest first: {total, items:[{id, from_user_id, account, nickname, msg, created_at}]}");
        api.MapGet("/updates", Updates)
            .WithSummary("My update stream after a position: {updates:[event content...], last, oldest, more}")
            .WithDescription("Query: after (a position, default 0), limit (1-500, default 100). The events (FRIEND_INVITE, FRIEND_AGREE, " +
                "FRIEND_REMOVE, GROUP_JOIN, GROUP_LEAVE, and the ARRIVED and READ receipts on my messages) each carry data.position, as their live pushes do: one sequence per user with the " +
                "chat messages' positions (the messages at the positions between are fetched by SYNC with after). " +
                "last: my newest position, messages included; more: whether more events follow this page; " +
                "oldest: the oldest position still kept (older ones are pruned after Messaging:Retention:StreamDays).");
        api.MapGet("/search", Search)
            .WithSummary("Users whose account or nickname contains the keyword: {total, items:[{id, account, nickname, avatar}]}")
            .WithDescription("Query: keyword (1-64 characters). At most 20 users, exact account matches first; never the caller.");
        return api;
    }

    public sealed record UpdatesData(IReadOnlyList<JsonElement> Updates, long Last, long Oldest, bool More);

    public const int DefaultUpdatesLimit = 100;

    public static async Task<IResult> Updates(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<GetUserUpdates> messaging, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var after = Whole(input, "after", 0, long.MaxValue, 0);
        var limit = (int)Whole(input, "limit", 1, GetUserUpdates.MaxLimit, DefaultUpdatesLimit);
        return await ServiceCalls.AskAsync(messaging, new GetUserUpdates(me, after, limit), (UserUpdatesPage page) =>
        {
            var updates = page.Updates.Select(u => JsonDocument.Parse(u.Event is { } e ? EventContent.Render(e) : u.Content).RootElement.Clone()).ToList();
            return new UpdatesData(updates, page.Last, page.Oldest, page.More);
        }, ct);
    }

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/> in the query or body, or <paramref name="absent"/>.</summary>
    private static long Whole(ApiInput input, string field, long min, long max, long absent) =>
        input.OptionalString(field, 20) is { Length: > 0 } text
            ? long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
                ? n
                : throw new ApiInputException(field, $"{field} must be a whole number from {min} to {max}")
            : absent;

    private static UserItem ToItem(UserInfo u) => new(u.Id.ToString(), u.Account, u.Nickname, u.Avatar);

    private static ListData<UserItem> ToList(UserList list) => new(list.Items.Count, list.Items.Select(ToItem).ToList());

    public static async Task<IResult> Friends(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<ListFriends> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        return await ServiceCalls.AskAsync(friends, new ListFriends(me), (UserList l) => ToList(l), ct);
    }

    public static async Task<IResult> Add(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<SendFriendRequest> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var to = input.RequiredId("to_user_id");
        var message = input.OptionalString("msg", FriendRules.MessageMaxLength);
        // The same budget as FRIEND_INVITE over a connection: the HTTP route is not a way around it.
        ApiCaller.Spend(request, me, FrameKind.FriendEvent);
        return await ServiceCalls.AskAsync(friends, new SendFriendRequest(me, to, message),
            (FriendRequestSent s) => new IdData(s.RequestId.ToString()), ct);
    }

    public static async Task<IResult> Accept(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<AcceptFriendRequest> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var id = input.OptionalId("id");
        var inviter = id is null ? input.OptionalId("from_user_id") : null;
        if (id is null && inviter is null)
            throw new ApiInputException("id", "id is required (the friend request's id; or from_user_id, the inviter's)");
        ApiCaller.Spend(request, me, FrameKind.FriendEvent);
        return await ServiceCalls.AskAsync(friends, new AcceptFriendRequest(me, id, inviter),
            (FriendRequestAccepted a) => new AcceptedData(a.RequestId.ToString(), a.InviterId.ToString()), ct);
    }

    public static async Task<IResult> Reject(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<RejectFriendRequest> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var id = input.RequiredId("id");
        return await ServiceCalls.AskAsync(friends, new RejectFriendRequest(me, id),
            (FriendRequestDeclined d) => new IdData(d.RequestId.ToString()), ct);
    }

    public static async Task<IResult> Remove(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<RemoveFriend> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var friend = input.RequiredId("friend_id");
        return await ServiceCalls.AskAsync(friends, new RemoveFriend(me, friend), (FriendRemoved _) => Empty.Instance, ct, "removed");
    }

    public sealed record BlockData(string UserId, bool Blocked);

    public static Task<IResult> Block(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<BlockUser> friends, CancellationToken ct) =>
        ChangeBlockAsync(request, auth, friends, (me, other) => new BlockUser(me, other), ct);

    public static Task<IResult> Unblock(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<UnblockUser> friends, CancellationToken ct) =>
        ChangeBlockAsync(request, auth, friends, (me, other) => new UnblockUser(me, other), ct);

    /// <summary>A block or unblock of <c>user_id</c>, spending the caller's friend-event budget.</summary>
    private static async Task<IResult> ChangeBlockAsync<TChange>(HttpRequest request, IRequestClient<ValidateAccessToken> auth,
        IRequestClient<TChange> friends, Func<long, long, TChange> change, CancellationToken ct) where TChange : class
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var other = input.RequiredId("user_id");
        ApiCaller.Spend(request, me, FrameKind.FriendEvent);
        return await ServiceCalls.AskAsync(friends, change(me, other), (BlockChanged b) => new BlockData(b.BlockedId.ToString(), b.Blocked), ct);
    }

    public static async Task<IResult> Blocks(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<ListBlockedUsers> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        return await ServiceCalls.AskAsync(friends, new ListBlockedUsers(me), (UserList l) => ToList(l), ct);
    }

    public static async Task<IResult> Requests(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<ListFriendRequests> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        return await ServiceCalls.AskAsync(friends, new ListFriendRequests(me), (FriendRequestList l) => new ListData<FriendRequestItem>(l.Items.Count,
            l.Items.Select(r => new FriendRequestItem(r.Id.ToString(), r.FromUserId.ToString(), r.Account, r.Nickname, r.Message ?? "", r.CreatedAt)).ToList()), ct);
    }

    public static async Task<IResult> Search(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<SearchUsers> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var keyword = input.OptionalString("keyword", FriendRules.KeywordMaxLength);
        if (FriendRules.CheckKeyword(keyword) is { } broken)
            throw new ApiInputException(broken.Field, broken.Message);
        return await ServiceCalls.AskAsync(friends, new SearchUsers(me, keyword!.Trim(), FriendRules.DefaultSearchLimit), (UserList l) => ToList(l), ct);
    }
}
