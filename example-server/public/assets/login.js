// Login page: explains a refused user name (the demo login redirects back with ?error=name).
const error = new URLSearchParams(window.location.search).get("error");
const box = document.getElementById("name-error");
if (error === "name") {
  box.textContent = "Use 1 to 40 letters, digits, dots, dashes or underscores.";
  box.hidden = false;
}
document.getElementById("name").focus();
