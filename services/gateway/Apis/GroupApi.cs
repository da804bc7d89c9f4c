using EasyIm.Contracts.Auth;
using EasyIm.Contracts.Friends;
using EasyIm.Gateway.Http;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace EasyIm.Gateway.Apis;

/// <summary>Group routes. Every route needs the caller's access token.</summary>
public static class GroupApi
{
    public sealed record GroupItem(string Id, string Name, string OwnerId, int MemberCount, string InvitePolicy);
    public sealed record MemberItem(string Id, string Account, string Nickname, string Avatar, string Role);
    public sealed record MembersChangedData(string Id, int MemberCount);
    public sealed record SettingsData(string Id, string InvitePolicy);

    public static RouteGroupBuilder MapGroupApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/group").WithTags("Group");
        api.MapPost("/create", Create)
            .WithSummary("Create a group of me (the owner) and some of my friends; answers its id")
            .WithDescription("JSON body: {name (1-64 characters), member_ids: [friend ids, at most 200]}. " +
                "409 when the group would pass the server's group size cap (Friends:MaxGroupMembers, 2,000 by default, the owner included) " +
                "or someone would be in more groups than a user may be (Friends:MaxGroupsPerUser, 500).");
        api.MapPost("/invite", Invite)
            .WithSummary("Add some of my friends to a group I am in; members already in it are skipped")
            .WithDescription("JSON body: {group_id, user_ids: [friend ids, at most 200]}. 403 when the group's invite_policy is " +
                "\"admins\" and I am not its owner; 409 when the newcomers would pass the group size cap or the groups-per-user cap " +
                "(the group is then unchanged).");
        api.MapPost("/settings", Settings)
            .WithSummary("The owner changes a group's settings: who may invite")
            .WithDescription("JSON body: {group_id, invite_policy: \"members\" (every member may invite their friends, the default) | " +
                "\"admins\" (only the owner)}. Answers {id, invite_policy}; 403 for anyone but the owner.");
        api.MapPost("/leave", Leave)
            .WithSummary("Leave a group; an owner hands it to the longest-standing member, the last member dismisses it")
            .WithDescription("JSON body: {group_id}");
        api.MapPost("/remove", Remove)
            .WithSummary("Remove a member from a group (its owner only)")
            .WithDescription("JSON body: {group_id, user_id}. Every member and the one removed get GROUP_LEAVE with by_user_id; " +
                "the removed member's next message to the group is refused. 403 for anyone but the owner, or to remove the owner; " +
                "404 when the user is not a member; 400 to remove oneself (leave instead).");
        api.MapGet("/list", List)
            .WithSummary("My groups: {total, items:[{id, name, owner_id, member_count, invite_policy}]}");
        api.MapGet("/members", Members)
            .WithSummary("A group's members, for members only: {total, items:[{id, account, nickname, avatar, role}]}")
            .WithDescription("Query: group_id");
        return api;
    }

    private static MembersChangedData ToChanged(GroupMembersChanged c) => new(c.GroupId.ToString(), c.MemberCount);

    public static async Task<IResult> Create(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<CreateGroup> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var name = input.OptionalString("name", FriendRules.GroupNameMaxLength);
        var members = input.IdList("member_ids", FriendRules.MaxIdsPerCall);
        if ((FriendRules.CheckGroupName(name) ?? FriendRules.CheckIds(members, "member_ids", required: false)) is { } broken)
            throw new ApiInputException(broken.Field, broken.Message);
        return await ServiceCalls.AskAsync(friends, new CreateGroup(me, name!.Trim(), members),
            (GroupCreated g) => new FriendsApi.IdData(g.GroupId.ToString()), ct);
    }

    public static async Task<IResult> Invite(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<InviteToGroup> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var group = input.RequiredId("group_id");
        var users = input.IdList("user_ids", FriendRules.MaxIdsPerCall);
        if (FriendRules.CheckIds(users, "user_ids", required: true) is { } broken)
            throw new ApiInputException(broken.Field, broken.Message);
        return await ServiceCalls.AskAsync(friends, new InviteToGroup(me, group, users), (GroupMembersChanged c) => ToChanged(c), ct);
    }

    public static async Task<IResult> Settings(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<UpdateGroupSettings> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var group = input.RequiredId("group_id");
        var policy = input.RequiredString("invite_policy", 16);
        if (!GroupInvitePolicies.IsKnown(policy.Trim().ToLowerInvariant()))
            throw new ApiInputException("invite_policy", $"invite_policy must be \"{GroupInvitePolicies.Members}\" or \"{GroupInvitePolicies.Admins}\"");
        return await ServiceCalls.AskAsync(friends, new UpdateGroupSettings(me, group, policy.Trim().ToLowerInvariant()),
            (GroupSettingsUpdated u) => new SettingsData(u.GroupId.ToString(), u.InvitePolicy), ct);
    }

    public static async Task<IResult> Leave(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<LeaveGroup> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var group = input.RequiredId("group_id");
        return await ServiceCalls.AskAsync(friends, new LeaveGroup(me, group), (GroupMembersChanged c) => ToChanged(c), ct, "left");
    }

    public static async Task<IResult> Remove(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<RemoveFromGroup> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var group = input.RequiredId("group_id");
        var member = input.RequiredId("user_id");
        return await ServiceCalls.AskAsync(friends, new RemoveFromGroup(me, group, member), (GroupMembersChanged c) => ToChanged(c), ct);
    }

    public static async Task<IResult> List(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<ListGroups> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        return await ServiceCalls.AskAsync(friends, new ListGroups(me), (GroupList l) => new FriendsApi.ListData<GroupItem>(l.Items.Count,
            l.Items.Select(g => new GroupItem(g.Id.ToString(), g.Name, g.OwnerId.ToString(), g.MemberCount, g.InvitePolicy)).ToList()), ct);
    }

    public static async Task<IResult> Members(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<ListGroupMembers> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var group = input.RequiredId("group_id");
        return await ServiceCalls.AskAsync(friends, new ListGroupMembers(me, group), (GroupMemberList l) => new FriendsApi.ListData<MemberItem>(l.Items.Count,
            l.Items.Select(m => new MemberItem(m.Id.ToString(), m.Account, m.Nickname, m.Avatar, m.Role)).ToList()), ct);
    }
}
