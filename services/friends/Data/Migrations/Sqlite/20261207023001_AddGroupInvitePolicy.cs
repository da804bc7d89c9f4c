using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EasyIm.Friends.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class AddGroupInvitePolicy : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Groups made before the policy existed keep easyim's rule: every member may invite.
            migrationBuilder.AddColumn<string>(
                name: "InvitePolicy",
                table: "groups",
                type: "TEXT",
                maxLength: 16,
                nullable: false,
                defaultValue: "Members");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "InvitePolicy",
                table: "groups");
        }
    }
}
